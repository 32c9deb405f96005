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

// A task that stayed in one wait for waitPatience wake-ups has its anchor
// let go, once (a task that has not run yet is in a wait: its mark is 0).
func TestAnchorGuardLetsGoOnAQuietTask(t *testing.T) {
	a := &fakeAnchor{}
	g := newAnchorGuard(a)
	g.watch(&kernel.Task{})
	a.onWake() // the first look
	for i := 1; i < waitPatience; i++ {
		a.onWake()
	}
	if len(a.held) != 0 {
		t.Fatalf("held %v after %d quiet looks, want no change", a.held, waitPatience-1)
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
