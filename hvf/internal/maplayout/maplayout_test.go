package maplayout

import (
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
