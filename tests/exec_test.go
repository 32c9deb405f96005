package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// execve in place (there is no fork yet): testdata/exec.c replaces itself
// with later modes of itself, or checks that a failed exec left it intact.

func TestExecChainOfFiftyKeepsPid(t *testing.T) {
	runProgram(t, progCase{src: "exec.c", args: []string{"chain", "50"}})
}

func TestExecFailuresLeaveCallerRunning(t *testing.T) {
	// ENOENT, EACCES, ENOEXEC (truncated ELF, text without #!), ENOTDIR,
	// EFAULT, E2BIG, and execveat's EINVAL, EBADF, ELOOP.
	runProgram(t, progCase{src: "exec.c", args: []string{"failures"}})
}

func TestExecClosesCloexecDescriptorsOnly(t *testing.T) {
	runProgram(t, progCase{src: "exec.c", args: []string{"cloexec"}})
}

func TestExecResetsHandlersKeepsIgnoredMaskAndPending(t *testing.T) {
	// The pending SIGTERM kills the new image once unblocked: exit 143.
	runProgram(t, progCase{src: "exec.c", args: []string{"signals"}})
}

func TestExecProcSelfExeFollowsTheImage(t *testing.T) {
	runProgram(t, progCase{src: "exec.c", args: []string{"exe"}})
}

func TestExecScriptWithOneInterpreterArgument(t *testing.T) {
	runProgram(t, progCase{src: "exec.c", args: []string{"script"}})
}

func TestExecveatEmptyPathAndDirfd(t *testing.T) {
	runProgram(t, progCase{src: "exec.c", args: []string{"at_empty"}})
}

func TestExecNullArgvAndExactEnvironment(t *testing.T) {
	runProgram(t, progCase{src: "exec.c", args: []string{"env"}})
}

func TestExecFromBusyboxShell(t *testing.T) {
	requireBusybox(t)
	script := testutil.File{Path: "script.sh", Mode: 0o755,
		Content: "#!/bin/busybox sh\necho \"script $# [$1] [$2]\"\nexec /bin/busybox echo replaced again\n"}
	cases := []testutil.Case{
		{Name: "exec_replaces_shell", Args: sh(`echo before; exec /bin/busybox echo replaced; echo not reached`)},
		{Name: "exec_script_with_interpreter_argument", Args: sh(`exec ./script.sh "one arg" two`), Files: []testutil.File{script}},
		{Name: "exec_missing_program", Args: sh(`exec /nonexistent/program; echo not reached`)},
		{Name: "exec_dynamic_program", Args: sh(`exec /bin/busybox sh -c 'exec /bin/echo dynamic echo'`)},
		{Name: "exec_keeps_redirections", Args: sh(`exec 3>out.txt; exec /bin/busybox sh -c 'echo via fd 3 >&3; cat out.txt'`), CompareFiles: true},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}

func TestExecFromBashStatic(t *testing.T) {
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	script := testutil.File{Path: "args.sh", Mode: 0o755, Content: "#!/bin/bash-static -e\necho \"${0##*/} got $# args: $*\"\n"}
	cases := []testutil.Case{
		{Name: "bash_exec_builtin", Args: []string{bashStatic, "-c", `echo start; exec -a renamed /bin/busybox sh -c 'echo "dollar0=$0"'`}},
		{Name: "bash_exec_script_with_option", Args: []string{bashStatic, "-c", `exec ./args.sh a "b c"`}, Files: []testutil.File{script}},
		{Name: "bash_exec_not_found", Args: []string{bashStatic, "-c", `exec ./missing; echo not reached`}},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
