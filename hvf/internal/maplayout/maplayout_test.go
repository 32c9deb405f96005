package maplayout

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSpansCutSetProtect(t *testing.T) {
	k := Key{Dev: 1, Ino: 2, AccMode: 2}
	var l Spans
	l = l.Set(Span{Start: 0x1000, End: 0x5000, Key: k, Off: 0x10000, Prot: 3})
	l = l.Cut(0x2000, 0x3000)
	want := Spans{
		{Start: 0x1000, End: 0x2000, Key: k, Off: 0x10000, Prot: 3},
		{Start: 0x3000, End: 0x5000, Key: k, Off: 0x12000, Prot: 3},
	}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("cut: %+v, want %+v", l, want)
	}
	l = l.Protect(0x3000, 0x4000, 1)
	want = Spans{
		{Start: 0x1000, End: 0x2000, Key: k, Off: 0x10000, Prot: 3},
		{Start: 0x3000, End: 0x4000, Key: k, Off: 0x12000, Prot: 1},
		{Start: 0x4000, End: 0x5000, Key: k, Off: 0x13000, Prot: 3},
	}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("protect: %+v, want %+v", l, want)
	}
	l = l.Set(Span{Start: 0x1800, End: 0x3800, Key: k, Off: 0, Prot: 7})
	if len(l) != 4 || l[0].End != 0x1800 || l[1].Start != 0x1800 || l[1].Prot != 7 || l[2].Start != 0x3800 || l[2].Off != 0x12800 {
		t.Fatalf("set over two spans: %+v", l)
	}
}

func TestSpansClaim(t *testing.T) {
	k := Key{Dev: 1, Ino: 2, AccMode: 2}
	other := Key{Dev: 1, Ino: 3, AccMode: 2}
	stale := Spans{
		{Start: 0x1000, End: 0x3000, Key: k, Off: 0x1000, Prot: 3, Stale: true},
		{Start: 0x3000, End: 0x4000, Key: k, Off: 0x3000, Prot: 3, Stale: true},
		{Start: 0x6000, End: 0x7000, Key: k, Off: 0x6000, Prot: 3, Stale: true},
	}
	for _, c := range []struct {
		name       string
		start, end uint64
		key        Key
		off, prot  uint64
		want       bool
	}{
		{"exact", 0x1000, 0x3000, k, 0x1000, 3, true},
		{"across two spans", 0x2000, 0x4000, k, 0x2000, 3, true},
		{"another file", 0x1000, 0x2000, other, 0x1000, 3, false},
		{"another offset", 0x1000, 0x2000, k, 0x2000, 3, false},
		{"another protection", 0x1000, 0x2000, k, 0x1000, 1, false},
		{"over a hole", 0x3000, 0x7000, k, 0x3000, 3, false},
		{"past the end", 0x6000, 0x8000, k, 0x6000, 3, false},
		{"nothing there", 0x9000, 0xa000, k, 0x9000, 3, false},
	} {
		l := append(Spans(nil), stale...)
		got, ok := l.Claim(c.start, c.end, c.key, c.off, c.prot)
		if ok != c.want {
			t.Errorf("%s: claim = %v, want %v", c.name, ok, c.want)
			continue
		}
		if !ok {
			if !reflect.DeepEqual(got, stale) {
				t.Errorf("%s: a failed claim changed the spans: %+v", c.name, got)
			}
			continue
		}
		for _, s := range got {
			inside := s.Start >= c.start && s.End <= c.end
			if inside == s.Stale {
				t.Errorf("%s: span %+v stale=%v after the claim", c.name, s, s.Stale)
			}
		}
	}
}

func TestKeeps(t *testing.T) {
	own := Key{Dev: 1, Ino: 2, AccMode: unix.O_RDWR}
	if !Keeps(Key{Dev: 1, Ino: 2, AccMode: unix.O_RDWR}, []Key{own}) {
		t.Error("elfuse's own file not kept")
	}
	if !Keeps(Key{Dev: 1, Ino: 5, AccMode: unix.O_RDONLY}, []Key{own}) {
		t.Error("a read-only file not kept")
	}
	if Keeps(Key{Dev: 1, Ino: 5, AccMode: unix.O_RDWR}, []Key{own}) {
		t.Error("a file open for writing kept")
	}
}

// A heap grown map by map stays one span; a map that continues neither
// neighbour (another offset, protection or file) stays apart.
func TestSetJoinsWhatContinues(t *testing.T) {
	k := Key{Dev: 1, Ino: 2, AccMode: 2}
	var l Spans
	for a := uint64(0x10000); a < 0x10000+100*0x21000; a += 0x21000 {
		l = l.Set(Span{Start: a, End: a + 0x21000, Key: k, Off: a, Prot: 3})
	}
	if len(l) != 1 || l[0].Start != 0x10000 || l[0].End != 0x10000+100*0x21000 || l[0].Off != 0x10000 {
		t.Fatalf("a heap grown 100 times: %+v, want one span", l)
	}
	l = l.Cut(0x20000, 0x30000)
	l = l.Set(Span{Start: 0x20000, End: 0x30000, Key: k, Off: 0x20000, Prot: 3})
	if len(l) != 1 {
		t.Fatalf("a hole mapped again as before: %+v, want one span", l)
	}
	l = l.Set(Span{Start: 0x20000, End: 0x30000, Key: k, Off: 0x99000, Prot: 3})
	if len(l) != 3 {
		t.Fatalf("another offset inside: %+v, want three spans", l)
	}
}

// The spans behave as a page table would: random sets, cuts, protects
// and claims over a small range, checked page by page against a map of
// pages, and the list stays sorted, disjoint and joined.
func TestSpansAgainstPages(t *testing.T) {
	type page struct {
		key         Key
		off, prot   uint64
		stale, used bool
	}
	const n = 64
	const pg = 0x1000
	keys := []Key{{Dev: 1, Ino: 1}, {Dev: 1, Ino: 2}}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var l Spans
		var pages [n]page
		for op := 0; op < 60; op++ {
			a := rng.IntN(n)
			b := a + 1 + rng.IntN(n-a)
			start, end := uint64(a)*pg, uint64(b)*pg
			k := keys[rng.IntN(2)]
			off := uint64(rng.IntN(4)) * pg
			prot := uint64(1 + rng.IntN(2))
			switch rng.IntN(4) {
			case 0:
				stale := rng.IntN(2) == 0
				l = l.Set(Span{Start: start, End: end, Key: k, Off: off, Prot: prot, Stale: stale})
				for p := a; p < b; p++ {
					pages[p] = page{key: k, off: off + uint64(p-a)*pg, prot: prot, stale: stale, used: true}
				}
			case 1:
				l = l.Cut(start, end)
				for p := a; p < b; p++ {
					pages[p] = page{}
				}
			case 2:
				l = l.Protect(start, end, prot)
				for p := a; p < b; p++ {
					if pages[p].used {
						pages[p].prot = prot
					}
				}
			case 3:
				ok := true
				for p := a; p < b; p++ {
					q := pages[p]
					ok = ok && q.used && q.key == k && q.prot == prot && q.off == off+uint64(p-a)*pg
				}
				var got bool
				l, got = l.Claim(start, end, k, off, prot)
				if got != ok {
					t.Fatalf("round %d op %d: claim [%#x,%#x) = %v, pages say %v", round, op, start, end, got, ok)
				}
				if ok {
					for p := a; p < b; p++ {
						pages[p].stale = false
					}
				}
			}
			var seen [n]page
			for i, s := range l {
				if s.Start >= s.End || (i > 0 && l[i-1].End > s.Start) {
					t.Fatalf("round %d op %d: not sorted and disjoint: %+v", round, op, l)
				}
				if i > 0 && joins(&l[i-1], &l[i]) {
					t.Fatalf("round %d op %d: %+v and %+v not joined", round, op, l[i-1], l[i])
				}
				for a := s.Start; a < s.End; a += pg {
					seen[a/pg] = page{key: s.Key, off: s.OffAt(a), prot: s.Prot, stale: s.Stale, used: true}
				}
			}
			if seen != pages {
				t.Fatalf("round %d op %d: spans %+v differ from the pages", round, op, l)
			}
		}
	}
}
