package kernel

import (
	"bytes"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// A parent that forks again and again gets its RAM mapped for the copies
// after forkSrcAfter forks, and every child still holds exactly the
// parent's memory of its fork, including what the parent wrote since the
// mapping was made.
func TestForkLoopCopiesFromAMappedParent(t *testing.T) {
	forkSrc.mu.Lock()
	forkSrc.drop()
	forkSrc.mu.Unlock()
	t.Cleanup(func() {
		forkSrc.mu.Lock()
		forkSrc.drop()
		forkSrc.mu.Unlock()
	})
	parent, _ := newTestMM(t)
	p := mustMmap(t, parent, 0x1000000, 4*pg, rw, anon|abi.MAP_FIXED)
	ram, err := NewChildRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		b := byte(0x20 + i)
		fill(t, parent, p+abi.Addr(i%4)*pg, pg, b)
		want := make([]byte, 4*pg)
		if _, err := parent.CopyIn(p, want); err != nil {
			t.Fatal(err)
		}
		child := forkInto(t, parent, ram)
		expectBytes(t, child, p, want)
		fill(t, child, p, 4*pg, 0xee) // the next child must not see it
		expectBytes(t, parent, p+abi.Addr(i%4)*pg, bytes.Repeat([]byte{b}, pg))
		forkSrc.mu.Lock()
		mapped := len(forkSrc.maps)
		forkSrc.mu.Unlock()
		// The first child copies into a new RAM, the next forkSrcAfter
		// into kept RAM by pread, the later ones from the mapping.
		if i > forkSrcAfter && mapped == 0 {
			t.Errorf("fork %d: the parent's RAM is not mapped", i)
		}
		if i <= forkSrcAfter && mapped != 0 {
			t.Errorf("fork %d: the parent's RAM is mapped already", i)
		}
		if ram = child.keepRAM(); ram == nil || !ram.kept {
			t.Fatalf("fork %d: the child's RAM was not kept", i)
		}
	}
	ram.Close()

	// Another parent's fork lets the first one's mapping go.
	other, _ := newTestMM(t)
	mustMmap(t, other, 0x1000000, pg, rw, anon|abi.MAP_FIXED)
	fill(t, other, 0x1000000, pg, 0x99)
	forkSrc.mu.Lock()
	defer forkSrc.mu.Unlock()
	if forkSrc.begin(other.ramfd, testLimit) {
		t.Error("a new parent's first fork would copy from a mapping")
	}
	if len(forkSrc.maps) != 0 {
		t.Error("the earlier parent's mapping outlived another parent's fork")
	}
}

// A parent whose RAM holds more than keptRAMMax is never mapped.
func TestForkSourceLeavesLargeParentsUnmapped(t *testing.T) {
	old := keptRAMMax
	keptRAMMax = pg
	defer func() { keptRAMMax = old }()
	parent, _ := newTestMM(t)
	p := mustMmap(t, parent, 0x1000000, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, p, 4*pg, 0x42)
	var s forkSource
	defer s.drop()
	for i := range forkSrcAfter + 2 {
		if s.begin(parent.ramfd, testLimit) {
			t.Fatalf("fork %d of a parent holding 4 pages would map it", i)
		}
	}
}
