package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// procScripts are the shell scripts of tests/testdata/scripts that both
// busybox ash and bash run: every one forks, and most exec.
var procScripts = []string{
	"pipelines.sh",     // pipelines, exit statuses, pipefail, SIGPIPE
	"subshells.sh",     // subshells, command substitution, state copies
	"background.sh",    // background jobs, $!, wait, kill
	"traps.sh",         // trap, signals between shells, inherited SIG_IGN
	"xargs_find.sh",    // find -exec, xargs
	"exec_loop.sh",     // 300 fork+exec of /bin/busybox true, 50 substitutions
	"statuses.sh",      // exit and signal statuses of children, 126/127
	"exec_redirect.sh", // exec builtin, shared descriptors and offsets
}

// bashOnlyScripts use bash features (PIPESTATUS, wait -n, coproc, <(...)).
var bashOnlyScripts = []string{"bash_jobs.sh", "bash_fork_changes.sh"}

func busyboxShell() []string { return []string{busybox, "sh"} }

func bashShell() []string { return []string{bashStatic, "--norc", "--noprofile"} }

// procShellCases lists every script case: busybox first, then bash.
func procShellCases(t testing.TB) (bbCases, bashCases []testutil.Case) {
	for _, s := range procScripts {
		bbCases = append(bbCases, procShellCase(t, busyboxShell(), s))
		bashCases = append(bashCases, procShellCase(t, bashShell(), s))
	}
	for _, s := range bashOnlyScripts {
		bashCases = append(bashCases, procShellCase(t, bashShell(), s))
	}
	return bbCases, bashCases
}

func TestProcBusyboxShScripts(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	bbCases, _ := procShellCases(t)
	for _, c := range bbCases {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}

func TestProcBashScripts(t *testing.T) {
	requireBusybox(t) // the scripts exec /bin/busybox
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	requireProcesses(t)
	_, bashCases := procShellCases(t)
	for _, c := range bashCases {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}

// TestProcBusyboxOneLiners are short process-heavy commands, each a case of
// its own so a failure names the feature.
func TestProcBusyboxOneLiners(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	s := func(name, script string) testutil.Case {
		return testutil.Case{Name: name, Args: sh(script), Files: textFiles()}
	}
	cases := []testutil.Case{
		s("core_mix", `echo a; (echo b); x=$(echo c); echo $x; /bin/busybox true & wait; echo done`),
		s("pipeline_of_applets", `cat lines.txt | sort | uniq | wc -l`),
		s("subshell_exit_status", `(exit 42); echo $?`),
		s("background_wait_status", `(exit 9) & wait $!; echo $?`),
		s("kill_background_sleep", `sleep 30 & p=$!; kill $p; wait $p; echo $?`),
		s("trap_self_signal", `trap 'echo trapped' USR2; kill -USR2 $$; echo after`),
		s("exec_replaces_shell", `exec /bin/busybox echo replaced; echo not reached`),
		s("exit_status_of_killed_child", `sh -c 'kill -KILL $$'; echo $?`),
		s("xargs_runs_commands", `printf '%s\n' 1 2 3 | xargs -n1 expr 10 +`),
		s("find_exec", `find . -name '*.csv' -exec wc -l {} \;`),
		s("nested_shells", `sh -c 'sh -c "sh -c \"echo three deep; exit 5\""'; echo $?`),
		// A child killed right after fork, before it finished starting:
		// its parent's wait must still see the SIGKILL status.
		s("kill9_right_after_fork", `i=0; while [ $i -lt 20 ]; do sleep 10 & k=$!; kill -9 $k; wait $k; echo -n "$? "; i=$((i+1)); done; echo`),
		// Descriptors above a lowered RLIMIT_NOFILE survive fork and
		// exec, as on Linux; only new ones are limited.
		s("fork_above_lowered_nofile", `exec 150>/dev/null; ulimit -n 100; /bin/busybox true; echo rc=$?; (echo sub); ls /proc/self/fd | grep -x 150; exec 3>&-; exec 120>/dev/null || echo refused`),
		// RLIMIT_FSIZE: writes cut at the limit, SIGXFSZ past it (EFBIG
		// when ignored), truncate refused beyond it.
		s("file_size_limit", `ulimit -f 1; head -c 5000 /dev/zero > big; echo rc=$?; wc -c < big
(trap "" XFSZ; head -c 100 /dev/zero >> big 2>/dev/null; echo rc2=$?); wc -c < big
truncate -s 4096 big; echo trunc=$?; truncate -s 100 big; wc -c < big`),
		// RLIMIT_CPU: SIGKILL at the hard limit, SIGXCPU at the soft one.
		s("cpu_time_limit", `(ulimit -t 1; while :; do :; done) 2>/dev/null; echo hard=$?
(ulimit -S -t 1; trap "echo xcpu; exit 3" XCPU; while :; do :; done); echo soft=$?`),
		s("many_execs", `i=0; while [ $i -lt 50 ]; do /bin/busybox true || break; i=$((i+1)); done; echo $i`),
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
