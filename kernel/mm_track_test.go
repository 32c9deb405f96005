package kernel

import (
	"reflect"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func rng(s, e abi.Addr) abi.Range { return abi.Range{Start: s, End: e} }

func TestNormalRanges(t *testing.T) {
	got := normalRanges([]abi.Range{rng(0x5000, 0x6000), rng(0x1000, 0x2000), rng(0x2000, 0x3000), rng(0x7000, 0x7000), rng(0x5800, 0x9000)})
	want := []abi.Range{rng(0x1000, 0x3000), rng(0x5000, 0x9000)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestIncrementalOnlyForTheSameFork: a kept RAM is copied into
// incrementally only when it is a copy of the same RAM as of the very fork
// the parent's changes are counted from.
func TestIncrementalOnlyForTheSameFork(t *testing.T) {
	kept := &ChildRAM{kept: true, track: 7, gen: 3}
	d3, d2 := []abi.Range{rng(0x1000, 0x2000)}, []abi.Range{rng(0x1000, 0x3000)}
	all := []ForkBase{{Since: 4}, {Since: 3, Dirty: d3}, {Since: 2, Dirty: d2}}
	for _, c := range []struct {
		ram  *ChildRAM
		w    ForkWrites
		want []abi.Range
		ok   bool
	}{
		{kept, ForkWrites{Track: 7, Now: 4, Bases: all[1:]}, d3, true},
		{kept, ForkWrites{Track: 7, Now: 5, Bases: all}, d3, true}, // an older base
		{kept, ForkWrites{Track: 7, Now: 5, Bases: all[:1]}, nil, false},
		{kept, ForkWrites{Track: 8, Now: 4, Bases: all}, nil, false},                // another parent
		{kept, ForkWrites{Track: 7, Now: 4}, nil, false},                            // the parent lost its record
		{&ChildRAM{kept: true}, ForkWrites{Bases: []ForkBase{{}}}, nil, false},      // neither knows
		{&ChildRAM{track: 7, gen: 3}, ForkWrites{Track: 7, Bases: all}, nil, false}, // emptied
	} {
		got, ok := c.ram.incremental(c.w)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v with %+v: got %v %v", *c.ram, c.w, got, ok)
		}
	}
}

// TestForkBasesAccumulate: the bases of a fork go back through the
// changes the last forks found, each adding its own.
func TestForkBasesAccumulate(t *testing.T) {
	now := []abi.Range{rng(0x5000, 0x6000)}
	hist := [][]abi.Range{{rng(0x1000, 0x2000)}, {rng(0x2000, 0x3000)}, {rng(0x9000, 0xa000)}}
	got := forkBases(9, now, hist)
	want := []ForkBase{
		{Since: 9, Dirty: now},
		{Since: 8, Dirty: []abi.Range{rng(0x1000, 0x2000), rng(0x5000, 0x6000)}},
		{Since: 7, Dirty: []abi.Range{rng(0x1000, 0x3000), rng(0x5000, 0x6000)}},
		{Since: 6, Dirty: []abi.Range{rng(0x1000, 0x3000), rng(0x5000, 0x6000), rng(0x9000, 0xa000)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if got := forkBases(2, now, hist); len(got) != 1 || got[0].Since != 2 {
		t.Fatalf("no base before the first tracked fork: got %v", got)
	}
}

// TestNoteWriteLogsPages: the log of descriptor writes holds whole pages,
// runs merged.
func TestNoteWriteLogsPages(t *testing.T) {
	m := &MM{track: &ramTrack{}}
	m.noteWrite(rng(0x1010, 0x1020))
	m.noteWrite(rng(0x1ff0, 0x2010))
	m.noteWrite(rng(0x8000, 0x8000))
	m.noteWrite(rng(0x9000, 0xa001))
	want := []abi.Range{rng(0x1000, 0x3000), rng(0x9000, 0xb000)}
	if !reflect.DeepEqual(m.track.log, want) {
		t.Fatalf("log %v, want %v", m.track.log, want)
	}
	(&MM{}).noteWrite(rng(0x1000, 0x2000)) // untracked: nothing to do
}

// TestCopyFromCopiesOnlyChanges: an incremental copy into a kept RAM
// copies the parent's changed ranges and the kept process's, punches what
// the parent no longer holds, and leaves the rest; the check finds a page
// left as it was that differs.
func TestCopyFromCopiesOnlyChanges(t *testing.T) {
	const limit = 1 << 30
	src, err := NewChildRAM(limit)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ram, err := NewChildRAM(limit)
	if err != nil {
		t.Fatal(err)
	}
	defer ram.Close()
	page := func(c *ChildRAM, a abi.Addr) byte {
		var b [1]byte
		if _, err := preadFull(c.fd, b[:], int64(a)); err != nil {
			t.Fatal(err)
		}
		return b[0]
	}
	put := func(c *ChildRAM, a abi.Addr, v byte) {
		if !(&MM{ramfd: c.fd}).writeRAM(a, []byte{v}) {
			t.Fatal("write")
		}
	}
	for a := abi.Addr(0x10000); a < 0x18000; a += abi.PageSize {
		put(src, a, 1)
		put(ram, a, 1)
	}
	put(ram, 0x20000, 1) // the kept process's page the parent lacks
	put(src, 0x11000, 2) // the parent's change
	put(ram, 0x12000, 3) // the kept process's change
	put(src, 0x13000, 4) // a change nobody reports: left as it was
	ram.kept, ram.held = true, []abi.Range{rng(0x10000, 0x18000), rng(0x20000, 0x21000)}
	ram.track, ram.gen, ram.changed = 5, 9, []abi.Range{rng(0x12000, 0x13000)}
	w := ForkWrites{Track: 5, Now: 10, Bases: []ForkBase{{Since: 9, Dirty: []abi.Range{rng(0x11000, 0x12000)}}}}
	if err := ram.CopyFrom(src.fd, []abi.Range{rng(0x10000, 0x18000)}, w); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   abi.Addr
		want byte
	}{{0x10000, 1}, {0x11000, 2}, {0x12000, 1}, {0x13000, 1}, {0x20000, 0}} {
		if got := page(ram, c.at); got != c.want {
			t.Errorf("page %#x: %d, want %d", uint64(c.at), got, c.want)
		}
	}
	if ram.kept || ram.track != 0 || ram.changed != nil {
		t.Errorf("still kept after the copy: %+v", *ram)
	}

	ram.kept, ram.held, ram.track, ram.gen = true, []abi.Range{rng(0x10000, 0x18000)}, 5, 10
	forkCheck = true
	defer func() { forkCheck = false }()
	w = ForkWrites{Track: 5, Now: 11, Bases: []ForkBase{{Since: 10}}}
	if err := ram.CopyFrom(src.fd, []abi.Range{rng(0x10000, 0x18000)}, w); err == nil {
		t.Fatal("the check missed page 0x13000")
	}
}
