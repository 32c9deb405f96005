package supervisor

import (
	"errors"
	"testing"

	"github.com/elfuse/elfuse/ipc"
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

// guestTTY keeps Linux's tiocsctty rules for a pty a guest session takes.
func TestGuestTTYTakeRules(t *testing.T) {
	tr := NewTree(0, 1000)
	tr.NewInit("/init", nil, Leads{Group: true, Session: true})
	for range 3 {
		tr.Fork(1, abi.SIGCHLD) // 2, 3, 4
	}
	for _, pid := range []int32{2, 3} {
		if _, err := tr.Setsid(pid); err != nil {
			t.Fatal(err)
		}
	}
	s := &supervisor{tree: tr}
	const dev = 0x8807
	do := func(caller int32, op int, steal bool) (int32, error) {
		return s.guestTTY(caller, &ipc.Request{Options: int32(op), Seq: dev, Flag: steal})
	}
	steps := []struct {
		name    string
		caller  int32
		op      int
		steal   bool
		want    int32
		wantErr error
	}{
		{"non-leader takes", 4, ipc.GuestTTYTake, false, 0, abi.EPERM},
		{"leader takes", 2, ipc.GuestTTYTake, false, 0, nil},
		{"owner reads its group", 2, ipc.GuestTTYGetpgrp, false, 2, nil},
		{"owner reads its session", 2, ipc.GuestTTYGetsid, false, 2, nil},
		{"outsider reads the group", 1, ipc.GuestTTYGetpgrp, false, 0, abi.ENOTTY},
		{"other session takes", 3, ipc.GuestTTYTake, false, 0, abi.EPERM},
		{"other session steals", 3, ipc.GuestTTYTake, true, 0, nil},
		{"old owner reads the group", 2, ipc.GuestTTYGetpgrp, false, 0, abi.ENOTTY},
		{"new owner reads its session", 3, ipc.GuestTTYGetsid, false, 3, nil},
	}
	for _, st := range steps {
		got, err := do(st.caller, st.op, st.steal)
		if got != st.want || !errors.Is(err, st.wantErr) {
			t.Errorf("%s: %d, %v; want %d, %v", st.name, got, err, st.want, st.wantErr)
		}
	}
}
