package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestGapsExecTextBusy: execve of a file some process holds open for
// writing fails with ETXTBSY (the caller, a fork child, an inherited
// descriptor, a shared writable mapping; the program, a "#!" script, its
// interpreter, an ELF interpreter), and runs once the last writer is gone.
func TestGapsExecTextBusy(t *testing.T) {
	runProgram(t, progCase{src: "gaps_etxtbsy.c"})
}

// TestGapsExecTextBusyShell: the shell's view, `cp prog x && ./x`, and a
// copy held open for writing by the shell itself.
func TestGapsExecTextBusyShell(t *testing.T) {
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	if _, why := testutil.LookCommand("cp"); why != "" {
		t.Skip(why)
	}
	script := `cp ` + bashStatic + ` x && ./x -c 'echo copy runs'
exec 3>>x; ./x -c 'echo runs while open' 2>/dev/null; echo "open for writing: $?"
exec 3>&-; ./x -c 'echo runs after close'; rm x`
	testutil.RunCase(t, elfuse, testutil.Case{Name: "cp_and_run",
		Args: []string{bashStatic, "--norc", "--noprofile", "-c", script}})
}
