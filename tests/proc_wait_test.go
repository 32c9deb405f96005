package tests

import "testing"

// TestProcWaitZombies checks which zombie a wait reports when a parent
// has several, by selector (-1, pid, 0, -pgid, __WCLONE), with WNOWAIT,
// with SIGCHLD ignored, and that waited children's usage adds up. elfuse
// answers many of these waits from zombies pushed to the parent's
// guestproc, the others through the supervisor; both must agree with
// native.
func TestProcWaitZombies(t *testing.T) {
	for _, m := range []string{"order", "pgrp", "nowait", "rusage", "clone", "ignored"} {
		t.Run(m, func(t *testing.T) {
			procProgram(t, progCase{name: "wait_" + m, src: "proc_wait.c", args: []string{m}})
		})
	}
}
