package supervisor

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// InSession decides whether elfuse's terminal is a process's controlling
// terminal (TIOCGSID, TIOC[GS]PGRP, TIOCNOTTY answer ENOTTY otherwise).
func TestInSessionFollowsSetsid(t *testing.T) {
	tr := NewTree(0, 1000)
	tr.NewInit("/init", nil, Leads{Group: true, Session: true})
	for range 2 {
		tr.Fork(1, abi.SIGCHLD)
	}
	if _, err := tr.Setsid(3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pid  int32
		want bool
	}{{1, true}, {2, true}, {3, false}, {77, false}} {
		if got := tr.InSession(tc.pid, 1); got != tc.want {
			t.Errorf("InSession(%d, 1) = %v, want %v", tc.pid, got, tc.want)
		}
	}
	if !tr.InSession(3, 3) {
		t.Error("InSession(3, 3) = false after setsid")
	}
}
