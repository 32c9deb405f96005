package supervisor

import "testing"

type fakeAnchor struct {
	held   []bool
	onWake func()
}

func (a *fakeAnchor) Hold(on bool)     { a.held = append(a.held, on) }
func (a *fakeAnchor) OnWake(fn func()) { a.onWake = fn }

// The anchor is let go at a wake-up with no message since the previous
// one, and held again by the next message, once.
func TestAnchorLetGoWhileQuiet(t *testing.T) {
	a := &fakeAnchor{}
	var g anchorGuard
	g.start(a)
	g.message()
	a.onWake() // a message since the start: keep holding
	if len(a.held) != 0 {
		t.Fatalf("held %v after a busy interval, want no change", a.held)
	}
	a.onWake() // nothing since
	if len(a.held) != 1 || a.held[0] {
		t.Fatalf("held %v after a quiet interval, want [false]", a.held)
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
