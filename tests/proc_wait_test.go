package tests

import "testing"

// TestProcWaitZombies checks which zombie a wait reports when a parent
// has several, by selector (-1, pid, 0, -pgid, __WCLONE), with WNOWAIT,
// with SIGCHLD ignored, that waited children's usage adds up, and when a
// wait finds no news or no child (ECHILD), also for a subreaper that
// adopted an orphan. elfuse answers many of these waits in the parent's
// guestproc (pushed zombies, known children), the others through the
// supervisor; both must agree with native.
func TestProcWaitZombies(t *testing.T) {
	for _, m := range []string{"order", "pgrp", "nowait", "rusage", "clone", "ignored", "echild", "subreaper"} {
		t.Run(m, func(t *testing.T) {
			procProgram(t, progCase{name: "wait_" + m, src: "proc_wait.c", args: []string{m}})
		})
	}
}
