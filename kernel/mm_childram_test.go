package kernel

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// forkInto builds parent's fork child on ram the way a guestproc does.
func forkInto(t *testing.T, parent *MM, ram *ChildRAM) *MM {
	t.Helper()
	snap := parent.ForkLayout()
	if err := ram.CopyFrom(snap.RAM, snap.Extents, ForkWrites{}); err != nil {
		t.Fatal(err)
	}
	child, err := NewMMInto(&fakeMachine{}, testLimit, snap, ram)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Close() })
	return child
}

// A fork child's RAM keeps its pages for the next fork child, which then
// holds exactly the parent's memory: the pages both have overwritten, the
// kept ones the parent lacks punched, the parent's others copied.
func TestChildRAMKeptPagesAreOverwrittenOrPunched(t *testing.T) {
	parent, _ := newTestMM(t)
	p := mustMmap(t, parent, 0x1000000, 6*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, p+pg, 2*pg, 0x11)
	fill(t, parent, p+4*pg, 2*pg, 0x12)

	first, err := NewChildRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	c1 := forkInto(t, parent, first)
	fill(t, c1, p, pg, 0x55)      // where the parent has a hole
	fill(t, c1, p+3*pg, pg, 0x55) // likewise
	fill(t, c1, p+pg, pg, 0x66)   // over the parent's page
	q := mustMmap(t, c1, 0x3000000, 2*pg, rw, anon|abi.MAP_FIXED)
	fill(t, c1, q, 2*pg, 0x77) // a mapping the parent lacks
	ram := c1.keepRAM()
	if ram == nil || !ram.kept {
		t.Fatalf("keepRAM = %+v; want the RAM kept with its pages", ram)
	}
	if got := appendFileExtents(nil, ram.fd, abi.Range{Start: 0, End: testLimit}); len(got) == 0 {
		t.Fatal("the kept RAM holds no pages")
	}

	fill(t, parent, p+2*pg, pg, 0x33)
	if err := parent.Madvise(p+4*pg, pg, abi.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	c2 := forkInto(t, parent, ram)
	want := append(make([]byte, pg), bytes.Repeat([]byte{0x11}, pg)...)
	want = append(want, bytes.Repeat([]byte{0x33}, pg)...)
	want = append(want, make([]byte, 2*pg)...)
	want = append(want, bytes.Repeat([]byte{0x12}, pg)...)
	// (Before reading: a read through the window populates holes.)
	got := appendFileExtents(nil, c2.ramfd, abi.Range{Start: 0, End: testLimit})
	if snap := parent.ForkLayout(); !reflect.DeepEqual(got, snap.Extents) {
		t.Fatalf("the child's RAM holds %v; want exactly the parent's %v", got, snap.Extents)
	}
	expectBytes(t, c2, p, want)
	fill(t, c2, p+pg, 1, 0x44)
	expectBytes(t, parent, p+pg, []byte{0x11})
}

// A RAM holding more than keptRAMMax, or one an exec emptied, is emptied
// at the process's end.
func TestKeepRAMEmptiesLargeOrExecedRAM(t *testing.T) {
	parent, _ := newTestMM(t)
	p := mustMmap(t, parent, 0x1000000, 2*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, p, 2*pg, 0x11)
	first, err := NewChildRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	c := forkInto(t, parent, first)
	saved := keptRAMMax
	keptRAMMax = pg
	defer func() { keptRAMMax = saved }()
	ram := c.keepRAM()
	if ram == nil || ram.kept {
		t.Fatalf("keepRAM = %+v; want an emptied RAM", ram)
	}
	defer ram.Close()
	if got := appendFileExtents(nil, ram.fd, abi.Range{Start: 0, End: testLimit}); len(got) != 0 {
		t.Fatalf("an emptied RAM holds %v", got)
	}

	fresh, _ := newTestMM(t) // not a fork child's copy: an exec's image
	fill(t, fresh, mustMmap(t, fresh, p, pg, rw, anon|abi.MAP_FIXED), pg, 0x22)
	keptRAMMax = saved
	ram2 := fresh.keepRAM()
	if ram2 == nil || ram2.kept {
		t.Fatalf("keepRAM of an exec's image = %+v; want an emptied RAM", ram2)
	}
	ram2.Close()
}

func TestSplitRanges(t *testing.T) {
	r := func(s, e abi.Addr) abi.Range { return abi.Range{Start: s, End: e} }
	for _, tc := range []struct {
		a, b, in, out []abi.Range
	}{
		{a: []abi.Range{r(0, 10)}, b: nil, out: []abi.Range{r(0, 10)}},
		{a: []abi.Range{r(0, 10)}, b: []abi.Range{r(0, 10)}, in: []abi.Range{r(0, 10)}},
		{a: []abi.Range{r(0, 10)}, b: []abi.Range{r(2, 4), r(6, 12)},
			in: []abi.Range{r(2, 4), r(6, 10)}, out: []abi.Range{r(0, 2), r(4, 6)}},
		{a: []abi.Range{r(0, 3), r(5, 9), r(20, 30)}, b: []abi.Range{r(2, 6), r(8, 21), r(25, 26)},
			in:  []abi.Range{r(2, 3), r(5, 6), r(8, 9), r(20, 21), r(25, 26)},
			out: []abi.Range{r(0, 2), r(6, 8), r(21, 25), r(26, 30)}},
		{a: []abi.Range{r(10, 20)}, b: []abi.Range{r(0, 5), r(30, 40)}, out: []abi.Range{r(10, 20)}},
	} {
		in, out := splitRanges(tc.a, tc.b)
		if !reflect.DeepEqual(in, tc.in) || !reflect.DeepEqual(out, tc.out) {
			t.Errorf("splitRanges(%v, %v) = %v, %v; want %v, %v", tc.a, tc.b, in, out, tc.in, tc.out)
		}
	}
}

// CopyFrom refuses extents out of order (the kept-RAM path relies on it).
func TestChildRAMRefusesUnsortedExtents(t *testing.T) {
	ram, err := NewChildRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer ram.Close()
	bad := []abi.Range{{Start: 4 * pg, End: 5 * pg}, {Start: pg, End: 2 * pg}}
	if err := ram.CopyFrom(ram.fd, bad, ForkWrites{}); err == nil {
		t.Fatal("unsorted extents accepted")
	}
}
