package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// open("/dev/tty") opens the caller's controlling terminal and fails with
// ENXIO without one. testdata/gaps_devtty.c opens it from itself, from a
// child in its session, after setsid, after TIOCNOTTY, and from a new
// session before and after it takes a new pseudo-terminal (TIOCSCTTY).

// TestGapsDevTTYWithoutTerminal: run as the harness runs everything (stdin
// /dev/null, no controlling terminal).
func TestGapsDevTTYWithoutTerminal(t *testing.T) {
	runProgram(t, progCase{src: "gaps_devtty.c"})
}

// TestGapsDevTTYOnTerminal: run as the session leader of a new
// pseudo-terminal.
func TestGapsDevTTYOnTerminal(t *testing.T) {
	requireProcesses(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			compareOnTerminal(t, cc.Build(t, comp, "gaps_devtty.c"))
		})
	}
}

// TestGapsDevTTYShellSetsid: the shell's view, `setsid sh -c 'exec
// 3</dev/tty'` fails once the session has no terminal.
func TestGapsDevTTYShellSetsid(t *testing.T) {
	requireProcesses(t)
	for _, c := range []string{bashStatic, "setsid", "sh"} {
		if _, why := testutil.LookCommand(c); why != "" {
			t.Skip(why)
		}
	}
	compareOnTerminal(t, bashStatic, "--norc", "--noprofile", "-c",
		`sh -c 'exec 3</dev/tty' && echo "in the session: opened"
setsid sh -c 'exec 3</dev/tty' 2>/dev/null; echo "after setsid: status $?"`)
}
