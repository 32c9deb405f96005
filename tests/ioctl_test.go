package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// Interface ioctls (struct ifreq on a socket): testdata/ioctl_if.c reads
// lo's flags, index and name, mtu, address, netmask and hardware family,
// lists interfaces with SIOCGIFCONF, changes the mtu and takes lo down and
// up again, in a fresh network namespace: natively under unshare --net,
// under elfuse with --net=none, so the host's interfaces never change.
func TestIoctlInterfaces(t *testing.T) {
	prefix, why := nativeNetns(t, nil)
	if why != "" {
		t.Skip(why)
	}
	bin := elfuse.Require(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			prog := cc.Build(t, comp, "ioctl_if.c")
			for _, b := range testutil.Backends() {
				t.Run(b, func(t *testing.T) {
					testutil.RequireBackend(t, b)
					compareNetns(t, bin, b, prog, prefix, nil, "lo")
				})
			}
		})
	}
}

// Session ioctls on a terminal: testdata/ioctl_tty.c runs as the session
// leader of a new pseudo-terminal, natively and under elfuse, and prints
// what tcgetsid, tcgetpgrp and tcsetpgrp answer on it from itself, from
// a child in its session and from one that left by setsid, and on files
// that are no controlling terminal.
func TestIoctlTerminalSession(t *testing.T) {
	requireProcesses(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			compareOnTerminal(t, cc.Build(t, comp, "ioctl_tty.c"))
		})
	}
}

// compareOnTerminal runs argv as the session leader of a new
// pseudo-terminal natively and under elfuse on each backend and compares
// what the terminals show and the exit status.
func compareOnTerminal(t *testing.T, argv ...string) {
	t.Helper()
	want, wantSt := runOnTerminal(t, argv, nil, nil)
	if want == "" {
		t.Fatal("the native run shows nothing")
	}
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			e := elfuse.Require(t)
			got, st := runOnTerminal(t, append([]string{e, "--backend", b, "--"}, argv...), nil, nil)
			if got != want || st != wantSt {
				t.Errorf("terminal differs (status %d, native %d):\n%s", st, wantSt, testutil.LineDiff(want, got))
			}
		})
	}
}

// TIOCNOTTY on a terminal: testdata/ioctl_notty.c, as the session leader
// of a new pseudo-terminal, has a child give the terminal up (member) or
// gives it up itself (leader: its foreground group gets SIGHUP and
// SIGCONT, the session loses the terminal), natively and under elfuse.
func TestIoctlTerminalNotty(t *testing.T) {
	requireProcesses(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			bin := cc.Build(t, comp, "ioctl_notty.c")
			for _, mode := range []string{"member", "leader"} {
				t.Run(mode, func(t *testing.T) { compareOnTerminal(t, bin, mode) })
			}
		})
	}
}

// TIOCSCTTY on a pseudo-terminal the program opens (script, expect):
// testdata/ioctl_sctty.c, as the session leader of another terminal,
// has children try to take it (a leader with a terminal, a non-leader, a
// new session), use its foreground group and session, steal it and take
// it again once its owner has exited, natively and under elfuse.
func TestIoctlTerminalTakeNewPty(t *testing.T) {
	requireProcesses(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			compareOnTerminal(t, cc.Build(t, comp, "ioctl_sctty.c"))
		})
	}
}
