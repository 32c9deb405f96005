package supervisor

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// A child its parent reaped on its own exit report before the tree heard
// of the exit is gone at once, for waits and lookups; its exit still sends
// the parent its event.
func TestReapBeforeExit(t *testing.T) {
	tr := family(t, 0)
	tr.Reap(1, 3)
	if _, ok := tr.Get(3); ok {
		t.Fatal("a child reaped early is still in the namespace")
	}
	if r, err := tr.Wait(1, 3, abi.WEXITED|abi.WNOHANG); err != abi.ECHILD {
		t.Fatalf("Wait(3) before its exit = %+v, %v; want ECHILD", r, err)
	}
	if parent, ok := tr.Parent(3); !ok || parent != 1 || !tr.Ending(3, 1) {
		t.Fatalf("Parent(3) = %d, %v, Ending %v: the tree forgot it before its exit", parent, ok, tr.Ending(3, 1))
	}
	notes := tr.Exit(3, 7<<8, abi.Rusage{})
	if ev := hasNote(notes, NoteChildEvent, 1); ev == nil || !ev.Exited {
		t.Fatalf("notes %+v: no exit event for the parent", notes)
	}
	if _, ok := tr.Parent(3); ok || tr.Ending(3, 1) {
		t.Fatal("pid 3 still known after its exit")
	}
	if r, err := tr.Wait(1, 3, abi.WEXITED|abi.WNOHANG); err != abi.ECHILD {
		t.Fatalf("Wait(3) = %+v, %v; want ECHILD", r, err)
	}
	if _, err := tr.Wait(1, -1, abi.WEXITED|abi.WNOHANG); err != nil {
		t.Fatalf("Wait(-1): %v, want pid 2 still there", err)
	}
}

// Only the parent's reap counts.
func TestReapBeforeExitByAnotherProcess(t *testing.T) {
	tr := family(t, 0)
	tr.Reap(2, 3)
	tr.Exit(3, 0, abi.Rusage{})
	if r, err := tr.Wait(1, 3, abi.WEXITED|abi.WNOHANG); err != nil || r.Pid != 3 {
		t.Fatalf("Wait(3) = %+v, %v; want the zombie", r, err)
	}
}

// A child reaped early no longer counts against --max-procs.
func TestReapBeforeExitFreesASlot(t *testing.T) {
	tr := family(t, 4)
	if _, err := tr.Fork(1, abi.SIGCHLD); err != abi.EAGAIN {
		t.Fatalf("fork past the limit: %v, want EAGAIN", err)
	}
	tr.Reap(1, 3)
	pid, err := tr.Fork(1, abi.SIGCHLD)
	if err != nil {
		t.Fatalf("fork after an early reap: %v", err)
	}
	if pid == 3 {
		t.Fatal("the pid of a child whose exit is not in yet was reused")
	}
	tr.Exit(3, 0, abi.Rusage{})
	if _, err := tr.Fork(1, abi.SIGCHLD); err != abi.EAGAIN {
		t.Fatalf("fork at the limit again: %v, want EAGAIN", err)
	}
}

// When the parent ends first, no one adopts the child it reaped: init
// never hears of its exit.
func TestReapBeforeExitParentEndsFirst(t *testing.T) {
	tr := family(t, 0)
	tr.Reap(2, 4)
	notes := tr.Exit(2, 0, abi.Rusage{})
	for _, n := range notes {
		if n.Pid == 4 || n.To == 4 {
			t.Fatalf("note %+v about the reaped child", n)
		}
	}
	if notes := tr.Exit(4, 0, abi.Rusage{}); len(notes) != 0 {
		t.Fatalf("exit of the reaped orphan: notes %+v", notes)
	}
	if _, ok := tr.Get(4); ok {
		t.Fatal("the reaped orphan stayed in the tree")
	}
}
