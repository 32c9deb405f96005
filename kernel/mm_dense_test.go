package kernel

import (
	"reflect"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Each fork's extents are the pages populated at that fork, whatever an
// earlier fork found: pages touched since are listed, pages punched since
// (munmap, MADV_DONTNEED) are not.
func TestForkExtentsFollowTheMemoryBetweenForks(t *testing.T) {
	m, _ := newTestMM(t)
	base := mustMmap(t, m, 0x1000000, 16*pg, rw, anon|abi.MAP_FIXED)
	rng := func(from, to int) abi.Range {
		return abi.Range{Start: base + abi.Addr(from*pg), End: base + abi.Addr(to*pg)}
	}
	check := func(step string, want ...abi.Range) {
		t.Helper()
		got := m.ForkLayout().Extents
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: extents %v, want %v", step, got, want)
		}
		scan := appendFileExtents(nil, m.ramfd, rng(0, 16))
		if !reflect.DeepEqual(scan, want) {
			t.Errorf("%s: the RAM holds %v, want %v", step, scan, want)
		}
	}
	fill(t, m, base+2*pg, 2*pg, 1)
	check("first fork", rng(2, 4))
	fill(t, m, base+4*pg, 1, 2)   // grows the known range
	fill(t, m, base+10*pg, 1, 3)  // a new one in a gap
	fill(t, m, base+15*pg, pg, 4) // at the region's end
	check("pages touched since", rng(2, 5), rng(10, 11), rng(15, 16))
	check("again, nothing changed", rng(2, 5), rng(10, 11), rng(15, 16))
	if err := m.Madvise(base+3*pg, pg, abi.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	check("a page dropped", rng(2, 3), rng(4, 5), rng(10, 11), rng(15, 16))
	if err := m.Munmap(base+10*pg, 6*pg); err != nil {
		t.Fatal(err)
	}
	mustMmap(t, m, base+10*pg, 6*pg, rw, anon|abi.MAP_FIXED)
	check("unmapped and mapped again", rng(2, 3), rng(4, 5))
}

// A fork child knows the pages it copied from its parent populated, so
// that its own fork and the end that keeps its RAM seek only past them;
// the pages it touches itself are found by seeking, as a parent's are.
func TestForkChildKnowsItsCopiedPagesPopulated(t *testing.T) {
	parent, _ := newTestMM(t)
	p := mustMmap(t, parent, 0x1000000, 8*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, p+pg, 2*pg, 0x11)
	ram, err := NewChildRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	child := forkInto(t, parent, ram)
	copied := []abi.Range{{Start: p + pg, End: p + 3*pg}}
	child.pop.mu.Lock()
	known := child.pop.rs
	child.pop.mu.Unlock()
	if !reflect.DeepEqual(known, copied) {
		t.Fatalf("the child knows %v populated, want the copied %v", known, copied)
	}
	fill(t, child, p+6*pg, 1, 0x22)
	want := []abi.Range{{Start: p + pg, End: p + 3*pg}, {Start: p + 6*pg, End: p + 7*pg}}
	if got := child.ForkLayout().Extents; !reflect.DeepEqual(got, want) {
		t.Errorf("the child's fork extents %v, want %v", got, want)
	}
}

func TestMergeRangesJoinsTouchingAndOverlapping(t *testing.T) {
	r := func(s, e abi.Addr) abi.Range { return abi.Range{Start: s, End: e} }
	got := mergeRanges([]abi.Range{r(0, 2), r(8, 9)}, []abi.Range{r(2, 3), r(5, 6), r(8, 10), r(12, 13)})
	want := []abi.Range{r(0, 3), r(5, 6), r(8, 10), r(12, 13)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
}
