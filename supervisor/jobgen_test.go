package supervisor

import (
	"encoding/binary"
	"testing"
)

// TestJobGenBumps: each bump moves the shared counter; a nil jobGen (no
// memfd) is a no-op.
func TestJobGenBumps(t *testing.T) {
	g, err := newJobGen()
	if err != nil {
		t.Fatal(err)
	}
	defer g.file.Close()
	before := binary.LittleEndian.Uint64(g.mem)
	g.bump()
	g.bump()
	if got := binary.LittleEndian.Uint64(g.mem); got != before+2 {
		t.Fatalf("counter %d after two bumps from %d", got, before)
	}
	var none *jobGen
	none.bump()
}
