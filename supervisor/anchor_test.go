package supervisor

import "testing"

type fakeAnchor struct {
	held   []bool
	onWake func()
}

func (a *fakeAnchor) Hold(on bool)     { a.held = append(a.held, on) }
func (a *fakeAnchor) OnWake(fn func()) { a.onWake = fn }

// The anchor is let go after quietPatience wake-ups in a row with no
// message, and held again by the next message, once.
func TestAnchorLetGoWhileQuiet(t *testing.T) {
	a := &fakeAnchor{}
	var g anchorGuard
	g.start(a)
	g.message()
	a.onWake() // a message since the start: keep holding
	if len(a.held) != 0 {
		t.Fatalf("held %v after a busy interval, want no change", a.held)
	}
	for i := 1; i < quietPatience; i++ {
		a.onWake() // nothing since: hold on for a while
	}
	if len(a.held) != 0 {
		t.Fatalf("held %v after %d quiet intervals, want no change", a.held, quietPatience-1)
	}
	g.message() // a message restarts the count
	a.onWake()
	for i := 1; i < quietPatience; i++ {
		a.onWake()
	}
	if len(a.held) != 0 {
		t.Fatalf("held %v after a message and %d quiet intervals, want no change", a.held, quietPatience-1)
	}
	a.onWake()
	if len(a.held) != 1 || a.held[0] {
		t.Fatalf("held %v after %d quiet intervals, want [false]", a.held, quietPatience)
	}
	g.message()
	g.message()
	if len(a.held) != 2 || !a.held[1] {
		t.Fatalf("held %v after two messages, want [false true]", a.held)
	}
	var none anchorGuard // no Anchor: nothing to do
	none.start(nil)
	none.message()
}
