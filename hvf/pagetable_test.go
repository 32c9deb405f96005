package hvf

import (
	"errors"
	"testing"
)

// fakePhys is a byte-slice stand-in for the system area.
type fakePhys struct {
	words []uint64
	base  uint64
	next  uint64
	inUse int
}

const fakePhysBase = 0x4000_0000_0000

func newFakePT(t *testing.T, pages int) (*pageTables, *fakePhys) {
	t.Helper()
	fp := &fakePhys{words: make([]uint64, pages*ptEntries), base: fakePhysBase}
	pt := &pageTables{words: fp.words, base: fp.base, alloc: fp.alloc}
	root, err := fp.alloc()
	if err != nil {
		t.Fatal(err)
	}
	pt.root = root
	return pt, fp
}

func (fp *fakePhys) alloc() (uint64, error) {
	if fp.next >= uint64(len(fp.words))*8 {
		return 0, errors.New("fake pool exhausted")
	}
	pa := fp.base + fp.next
	fp.next += pageSize
	i := (pa - fp.base) / 8
	clear(fp.words[i : i+ptEntries])
	fp.inUse++
	return pa, nil
}

func mustSet(t *testing.T, pt *pageTables, start, end uint64, p Prot) spans {
	t.Helper()
	var inv spans
	if err := pt.set(start, end, start, leafFlags(p), &inv); err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestLeafFlagsFollowProt(t *testing.T) {
	tests := []struct {
		p    Prot
		want uint64
	}{
		{0, 0},
		{ProtRead, ptePresent | pteUser | pteNX},
		{ProtRead | ProtWrite, ptePresent | pteUser | pteWrite | pteNX},
		{ProtRead | ProtExec, ptePresent | pteUser},
		{ProtRead | ProtWrite | ProtExec, ptePresent | pteUser | pteWrite},
		{ProtExec, ptePresent | pteUser},
	}
	for _, tc := range tests {
		if got := leafFlags(tc.p); got != tc.want {
			t.Errorf("leafFlags(%v) = %#x, want %#x", tc.p, got, tc.want)
		}
	}
}

func TestMapIsIdentityWithPermissions(t *testing.T) {
	tests := []struct {
		name       string
		start, end uint64
		prot       Prot
		probe      uint64
		wantSize   uint64
	}{
		{"one rw page", 0x400000, 0x401000, ProtRead | ProtWrite, 0x400123, pageSize},
		{"rx text", 0x400000, 0x410000, ProtRead | ProtExec, 0x40f000, pageSize},
		{"aligned 2M uses a large page", 0x200000, 0x400000, ProtRead | ProtWrite, 0x3fffff, size2M},
		{"4M unaligned start", 0x1ff000, 0x601000, ProtRead, 0x300000, size2M},
		{"unaligned head stays 4K", 0x1ff000, 0x601000, ProtRead, 0x1ff800, pageSize},
		{"near AddrLimit", 1<<46 - 0x200000, 1 << 46, ProtRead | ProtWrite, 1<<46 - 8, size2M},
		{"crossing 1G", 0x3ffff000, 0x40001000, ProtRead, 0x40000000, pageSize},
		{"crossing 512G", 1<<39 - pageSize, 1<<39 + pageSize, ProtRead, 1 << 39, pageSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, _ := newFakePT(t, 64)
			if inv := mustSet(t, pt, tc.start, tc.end, tc.prot); len(inv) != 0 {
				t.Errorf("fresh mapping reported invalidations %v", inv)
			}
			tr, ok := pt.walk(tc.probe)
			if !ok {
				t.Fatalf("%#x not present", tc.probe)
			}
			if tr.pa != tc.probe {
				t.Errorf("pa %#x, want identity %#x", tr.pa, tc.probe)
			}
			if tr.size != tc.wantSize {
				t.Errorf("page size %#x, want %#x", tr.size, tc.wantSize)
			}
			if !tr.user || tr.write != (tc.prot&ProtWrite != 0) || tr.exec != (tc.prot&ProtExec != 0) {
				t.Errorf("perms %+v for %v", tr, tc.prot)
			}
			if _, ok := pt.walk(tc.start - 1); ok {
				t.Errorf("page before the range is present")
			}
			if _, ok := pt.walk(tc.end); ok {
				t.Errorf("page after the range is present")
			}
		})
	}
}

func TestProtNoneIsNotPresent(t *testing.T) {
	pt, _ := newFakePT(t, 8)
	mustSet(t, pt, 0x400000, 0x402000, 0)
	if _, ok := pt.walk(0x400000); ok {
		t.Error("PROT_NONE page is present")
	}
}

func TestProtectInsideLargePageSplitsAndInvalidatesBlock(t *testing.T) {
	pt, fp := newFakePT(t, 16)
	mustSet(t, pt, 0x200000, 0x400000, ProtRead|ProtWrite)
	before := fp.inUse
	inv := mustSet(t, pt, 0x300000, 0x301000, ProtRead)
	if fp.inUse != before+1 {
		t.Errorf("split allocated %d tables", fp.inUse-before)
	}
	if len(inv) != 1 || inv[0] != (span{0x200000, 0x400000}) {
		t.Errorf("invalidations %v, want the whole 2M block", inv)
	}
	if tr, _ := pt.walk(0x300000); tr.write || tr.size != pageSize {
		t.Errorf("protected page %+v", tr)
	}
	if tr, _ := pt.walk(0x301000); !tr.write {
		t.Errorf("neighbour lost write: %+v", tr)
	}
	// Covering the whole block again merges it back to a large page; the
	// table is parked for this block and comes back on the next split.
	inv = mustSet(t, pt, 0x200000, 0x400000, ProtRead|ProtWrite)
	parked, ok := pt.parked[0x200000]
	if !ok {
		t.Errorf("merged-away table not parked for its block")
	}
	if tr, _ := pt.walk(0x300000); tr.size != size2M || !tr.write {
		t.Errorf("after merge %+v", tr)
	}
	if len(inv) != 1 || inv[0] != (span{0x200000, 0x400000}) {
		t.Errorf("merge invalidations %v", inv)
	}
	mustSet(t, pt, 0x250000, 0x251000, ProtRead)
	if fp.inUse != before+1 {
		t.Errorf("re-split allocated a new table")
	}
	if _, ok := pt.parked[0x200000]; ok {
		t.Errorf("parked table not taken back")
	}
	pd := pt.table(pt.table(pt.table(pt.root)[0] & pteAddrMask)[0] & pteAddrMask)
	if got := pd[1] & pteAddrMask; got != parked {
		t.Errorf("block table %#x, want the parked %#x", got, parked)
	}
	if tr, _ := pt.walk(0x250000); tr.write || tr.size != pageSize {
		t.Errorf("after re-split %+v", tr)
	}
	if tr, _ := pt.walk(0x251000); !tr.write || tr.pa != 0x251000 {
		t.Errorf("re-split table not refilled: %+v", tr)
	}
}

func TestPresentPTEChangesAreReported(t *testing.T) {
	pt, _ := newFakePT(t, 16)
	mustSet(t, pt, 0x400000, 0x408000, ProtRead|ProtWrite)
	tests := []struct {
		name       string
		start, end uint64
		prot       Prot
		want       spans
	}{
		{"same permissions: nothing", 0x400000, 0x402000, ProtRead | ProtWrite, nil},
		{"downgrade two pages", 0x401000, 0x403000, ProtRead, spans{{0x401000, 0x403000}}},
		{"extend into absent pages: only present ones", 0x407000, 0x40a000, ProtRead, spans{{0x407000, 0x408000}}},
		{"unmap", 0x400000, 0x401000, 0, spans{{0x400000, 0x401000}}},
		{"unmap absent: nothing", 0x500000, 0x501000, 0, nil},
	}
	for _, tc := range tests {
		var inv spans
		if err := pt.set(tc.start, tc.end, tc.start, leafFlags(tc.prot), &inv); err != nil {
			t.Fatal(err)
		}
		if len(inv) != len(tc.want) {
			t.Errorf("%s: invalidations %v, want %v", tc.name, inv, tc.want)
			continue
		}
		for i := range inv {
			if inv[i] != tc.want[i] {
				t.Errorf("%s: invalidations %v, want %v", tc.name, inv, tc.want)
			}
		}
	}
}

func TestEmptiedTablesAreParkedForTheirBlockOnly(t *testing.T) {
	pt, fp := newFakePT(t, 16)
	mustSet(t, pt, 0x400000, 0x403000, ProtRead)
	used := fp.inUse
	mustSet(t, pt, 0x400000, 0x401000, 0)
	if fp.inUse != used {
		t.Errorf("partial unmap changed table count by %d", fp.inUse-used)
	}
	inv := mustSet(t, pt, 0x401000, 0x403000, 0)
	if _, ok := pt.parked[0x400000]; !ok {
		t.Fatalf("emptied page table not parked")
	}
	if len(inv) == 0 || inv[len(inv)-1] != (span{0x400000, 0x600000}) {
		t.Errorf("dropping the table must invalidate its block: %v", inv)
	}
	// Another block never gets the parked table.
	mustSet(t, pt, 0x800000, 0x801000, ProtRead)
	if fp.inUse != used+1 {
		t.Errorf("another block reused a parked table (in use %d, was %d)", fp.inUse, used)
	}
	// Its own block gets it back, cleared.
	mustSet(t, pt, 0x402000, 0x403000, ProtRead)
	if fp.inUse != used+1 {
		t.Errorf("own block allocated a new table")
	}
	if _, ok := pt.walk(0x400000); ok {
		t.Errorf("reused table kept a stale entry")
	}
	// Clearing where nothing is mapped allocates nothing.
	used = fp.inUse
	mustSet(t, pt, 0x3f00_0000_0000-size1G, 0x3f00_0000_0000, 0)
	if fp.inUse != used {
		t.Errorf("clearing allocated %d tables", fp.inUse-used)
	}
}

func TestPoolExhaustionIsAnError(t *testing.T) {
	pt, _ := newFakePT(t, 3) // root + PDPT + PD, no room for a PT
	var inv spans
	if err := pt.set(0x400000, 0x401000, 0x400000, leafFlags(ProtRead), &inv); err == nil {
		t.Error("mapping with an exhausted pool succeeded")
	}
}

func TestSpansMergeAdjacent(t *testing.T) {
	var s spans
	s.add(0x1000, 0x2000)
	s.add(0x2000, 0x3000)
	s.add(0x1000, 0x3000)
	s.add(0x5000, 0x6000)
	if len(s) != 2 || s[0] != (span{0x1000, 0x3000}) || s[1] != (span{0x5000, 0x6000}) {
		t.Errorf("spans %v", s)
	}
}

func TestNonIdentityPhysicalAddresses(t *testing.T) {
	tests := []struct {
		name        string
		va, end, pa uint64
		probe       uint64
		wantPA      uint64
		wantSize    uint64
	}{
		{"chunk moved down, 2M aligned both sides", 0x3fff_c000_0000, 0x3fff_c040_0000, 0x4000_0000, 0x3fff_c020_1234, 0x4020_1234, size2M},
		{"2M-aligned va over a misaligned pa uses 4K pages", 0x200000, 0x400000, 0x1234000, 0x300010, 0x1334010, pageSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, _ := newFakePT(t, 16)
			var inv spans
			if err := pt.set(tc.va, tc.end, tc.pa, leafFlags(ProtRead|ProtWrite), &inv); err != nil {
				t.Fatal(err)
			}
			tr, ok := pt.walk(tc.probe)
			if !ok || tr.pa != tc.wantPA || tr.size != tc.wantSize {
				t.Errorf("walk(%#x) = %+v ok=%v, want pa %#x size %#x", tc.probe, tr, ok, tc.wantPA, tc.wantSize)
			}
		})
	}
}

func TestSplittingALargePageKeepsItsPhysicalBase(t *testing.T) {
	pt, _ := newFakePT(t, 16)
	var inv spans
	const va, pa = 0x7f00_0000_0000, 0x8000_0000
	if err := pt.set(va, va+size2M, pa, leafFlags(ProtRead|ProtWrite), &inv); err != nil {
		t.Fatal(err)
	}
	if err := pt.set(va+0x3000, va+0x4000, pa+0x3000, leafFlags(ProtRead), &inv); err != nil {
		t.Fatal(err)
	}
	for _, off := range []uint64{0, 0x3000, 0x1ff000} {
		tr, ok := pt.walk(va + off)
		if !ok || tr.pa != pa+off || tr.size != pageSize {
			t.Errorf("offset %#x: %+v ok=%v", off, tr, ok)
		}
	}
}
