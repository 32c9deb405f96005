package supervisor

import "testing"

// A fork child's pid is marked handed out until its guestproc's life ends,
// once: take reports the mark and forgets it.
func TestHandedOutForkChildren(t *testing.T) {
	var h handedOut
	if h.take(5) {
		t.Fatal("unmarked pid 5 reported handed out")
	}
	h.mark(5)
	h.mark(6)
	if !h.take(5) {
		t.Fatal("marked pid 5 not reported handed out")
	}
	if h.take(5) {
		t.Fatal("pid 5 reported twice (a later process with its pid would be misjudged)")
	}
	if !h.take(6) {
		t.Fatal("marked pid 6 lost")
	}
}
