package tests

import "testing"

// TestPtySignalsReachTheGuestForegroundGroup: a session on a
// pseudo-terminal it took itself (setsid, TIOCSCTTY: what script, expect
// and python's pty do) gets the signals its terminal sends when ^C, ^\ and
// ^Z are written to the leader side and when the window size changes; a
// literal ^V^\, ^C with ISIG off and a resize to the same size send
// nothing, and after tcsetpgrp the new foreground group gets them; a
// background member gets SIGTTIN for a read (EIO when ignored) and
// SIGTTOU for tcsetattr and, with TOSTOP, for a write; closing the
// leader side sends the session leader SIGHUP (testdata/pty_signals.c). No host session owns such a terminal, so
// elfuse does this itself (kernel/pty_signal.go).
func TestPtySignalsReachTheGuestForegroundGroup(t *testing.T) {
	requireProcesses(t)
	runProgram(t, progCase{name: "pty_signals", src: "pty_signals.c"})
}
