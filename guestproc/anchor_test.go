package guestproc

import (
	"testing"

	"github.com/elfuse/elfuse/kernel"
)

type fakeAnchor struct {
	held   []bool
	onWake func()
}

func (a *fakeAnchor) Hold(on bool)     { a.held = append(a.held, on) }
func (a *fakeAnchor) OnWake(fn func()) { a.onWake = fn }

// Without a task to watch the wake-ups change nothing; the spare's wait
// holds and lets go directly.
func TestAnchorGuardSpare(t *testing.T) {
	a := &fakeAnchor{}
	g := newAnchorGuard(a)
	a.onWake()
	a.onWake()
	g.hold(false)
	g.hold(true)
	if len(a.held) != 2 || a.held[0] || !a.held[1] {
		t.Fatalf("held %v, want [false true]", a.held)
	}
	newAnchorGuard(nil).hold(true) // no anchor: nothing to do
}

// A task that stayed in one wait (or run) from one wake-up to the next has
// its anchor let go, once.
func TestAnchorGuardLetsGoOnAQuietTask(t *testing.T) {
	a := &fakeAnchor{}
	g := newAnchorGuard(a)
	g.watch(&kernel.Task{})
	a.onWake() // the first look
	if len(a.held) != 0 {
		t.Fatalf("held %v after one look, want no change", a.held)
	}
	a.onWake()
	if len(a.held) != 1 || a.held[0] {
		t.Fatalf("held %v after a quiet interval, want [false]", a.held)
	}
	g.watch(nil)
	a.onWake()
	if len(a.held) != 1 {
		t.Fatalf("held %v with no task, want no change", a.held)
	}
}
