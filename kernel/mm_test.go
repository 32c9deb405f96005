package kernel

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

const (
	rw   = abi.PROT_READ | abi.PROT_WRITE
	anon = abi.MAP_PRIVATE | abi.MAP_ANONYMOUS
	pg   = abi.PageSize
)

func mustMmap(t *testing.T, m *MM, addr abi.Addr, length uint64, prot, flags int) abi.Addr {
	t.Helper()
	a, err := m.Mmap(addr, length, prot, flags, -1, 0)
	if err != nil {
		t.Fatalf("mmap(%#x, %#x, %d, %#x): %v", uint64(addr), length, prot, flags, err)
	}
	return a
}

func fill(t *testing.T, m *MM, addr abi.Addr, n int, b byte) {
	t.Helper()
	if _, err := m.CopyOut(addr, bytes.Repeat([]byte{b}, n)); err != nil {
		t.Fatalf("CopyOut(%#x, %d): %v", uint64(addr), n, err)
	}
}

func expectBytes(t *testing.T, m *MM, addr abi.Addr, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := m.CopyIn(addr, got); err != nil {
		t.Fatalf("CopyIn(%#x, %d): %v", uint64(addr), len(want), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("memory at %#x = %x..., want %x...", uint64(addr), got[:min(16, len(got))], want[:min(16, len(want))])
	}
}

func vmaCount(m *MM) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.vmas)
}

func TestMmapAnonymousComesTopDownAndMerges(t *testing.T) {
	m, fm := newTestMM(t)
	a := mustMmap(t, m, 0, 3*pg, rw, anon)
	if a+3*pg != m.mmapBase {
		t.Fatalf("first mmap at %#x, want just below the mmap base %#x", uint64(a), uint64(m.mmapBase))
	}
	b := mustMmap(t, m, 0, pg, rw, anon)
	if b != a-pg {
		t.Fatalf("second mmap at %#x, want %#x", uint64(b), uint64(a-pg))
	}
	if n := vmaCount(m); n != 1 {
		t.Fatalf("adjacent anonymous mappings left %d VMAs, want 1", n)
	}
	expectBytes(t, m, b, make([]byte, 4*pg))
	checkMachine(t, m, fm)
}

func TestMmapHintHonouredWhenFree(t *testing.T) {
	tests := []struct {
		name     string
		occupy   abi.Addr // mapped first (0: nothing)
		hint     abi.Addr
		wantHint bool
	}{
		{"low 0x400000 window is free", 0, 0x400000, true},
		{"unaligned hint rounds down", 0, 0x400123, true},
		{"hint above the mmap base", 0, 0x7000000000, true},
		{"hint overlapping a mapping moves", 0x400000, 0x400000, false},
		{"hint below mmap_min_addr moves up to it", 0, 0x1000, true},
		{"hint inside the first page means no hint", 0, 0x1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fm := newTestMM(t)
			if tt.occupy != 0 {
				mustMmap(t, m, tt.occupy, pg, rw, anon|abi.MAP_FIXED)
			}
			a := mustMmap(t, m, tt.hint, 2*pg, rw, anon)
			want := tt.hint.RoundDown()
			if want != 0 {
				want = max(want, abi.MMAP_MIN_ADDR)
			}
			if got := a == want; got != tt.wantHint {
				t.Fatalf("mmap(hint %#x) = %#x; at hint = %v, want %v", uint64(tt.hint), uint64(a), got, tt.wantHint)
			}
			if !tt.wantHint && a+2*pg != m.mmapBase {
				t.Fatalf("fallback mmap at %#x, want top-down below %#x", uint64(a), uint64(m.mmapBase))
			}
			checkMachine(t, m, fm)
		})
	}
}

func TestMmapFixedReplacesAndSplits(t *testing.T) {
	m, fm := newTestMM(t)
	a := mustMmap(t, m, 0x500000, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, m, a, 4*pg, 0xaa)
	b := mustMmap(t, m, a+pg, pg, abi.PROT_READ, anon|abi.MAP_FIXED)
	if b != a+pg {
		t.Fatalf("MAP_FIXED returned %#x, want %#x", uint64(b), uint64(a+pg))
	}
	if n := vmaCount(m); n != 3 {
		t.Fatalf("%d VMAs after replacing the middle, want 3", n)
	}
	expectBytes(t, m, a+pg, make([]byte, pg))
	expectBytes(t, m, a, bytes.Repeat([]byte{0xaa}, pg))
	expectBytes(t, m, a+2*pg, bytes.Repeat([]byte{0xaa}, 2*pg))
	if prot, ok := m.Lookup(a + pg); !ok || prot != hvf.ProtRead {
		t.Fatalf("Lookup(replaced page) = %v, %v; want read-only", prot, ok)
	}
	checkMachine(t, m, fm)
}

func TestMmapFixedNoreplace(t *testing.T) {
	m, fm := newTestMM(t)
	mustMmap(t, m, 0x600000, 2*pg, rw, anon|abi.MAP_FIXED)
	if _, err := m.Mmap(0x600000+pg, 2*pg, rw, anon|abi.MAP_FIXED_NOREPLACE, -1, 0); err != abi.EEXIST {
		t.Fatalf("NOREPLACE over a mapping: err %v, want EEXIST", err)
	}
	if a, err := m.Mmap(0x600000+2*pg, pg, rw, anon|abi.MAP_FIXED_NOREPLACE, -1, 0); err != nil || a != 0x600000+2*pg {
		t.Fatalf("NOREPLACE next to a mapping = %#x, %v", uint64(a), err)
	}
	checkMachine(t, m, fm)
}

func TestMmapErrors(t *testing.T) {
	tests := []struct {
		name   string
		addr   abi.Addr
		length uint64
		flags  int
		off    uint64
		want   abi.Errno
	}{
		{"zero length", 0, 0, anon, 0, abi.EINVAL},
		{"neither shared nor private", 0, pg, abi.MAP_ANONYMOUS, 0, abi.EINVAL},
		{"unaligned fixed address", 0x400010, pg, anon | abi.MAP_FIXED, 0, abi.EINVAL},
		{"fixed beyond the limit", testLimit, pg, anon | abi.MAP_FIXED, 0, abi.ENOMEM},
		{"fixed straddling the limit", testLimit - pg, 2 * pg, anon | abi.MAP_FIXED, 0, abi.ENOMEM},
		{"fixed below mmap_min_addr", 0x1000, pg, anon | abi.MAP_FIXED, 0, abi.EPERM},
		{"length overflows when rounded", 0, ^uint64(0) - 10, anon, 0, abi.ENOMEM},
		{"length larger than the space", 0, uint64(testLimit), anon, 0, abi.ENOMEM},
		{"unaligned offset", 0, pg, anon, 10, abi.EINVAL},
		{"offset overflow", 0, 2 * pg, abi.MAP_PRIVATE | abi.MAP_ANONYMOUS, ^uint64(0) &^ (pg - 1), abi.EOVERFLOW},
		{"hugetlb without huge pages", 0, pg, anon | abi.MAP_HUGETLB, 0, abi.ENOMEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestMM(t)
			_, err := m.Mmap(tt.addr, tt.length, rw, tt.flags, -1, tt.off)
			if err != tt.want {
				t.Fatalf("mmap error %v, want %v", err, tt.want)
			}
			if n := vmaCount(m); n != 0 {
				t.Fatalf("failed mmap left %d VMAs", n)
			}
		})
	}
}

// shmemRSS returns this process's resident shared memory in bytes.
func shmemRSS(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssShmem:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no RssShmem in /proc/self/status")
	return 0
}

func TestProtNoneReservationCostsNothing(t *testing.T) {
	m, fm := newTestMM(t)
	before := shmemRSS(t)
	a := mustMmap(t, m, 0, 16<<30, abi.PROT_NONE, anon|abi.MAP_NORESERVE)
	if fm.mapCalls() != 0 {
		t.Fatalf("PROT_NONE reservation asked the machine to map: %v", fm.calls)
	}
	var st unix.Stat_t
	if err := unix.Fstat(m.ramfd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 0 {
		t.Fatalf("RAM memfd holds %d blocks after a PROT_NONE reservation", st.Blocks)
	}
	if after := shmemRSS(t); after > before+(1<<20) {
		t.Fatalf("RssShmem grew from %d to %d bytes", before, after)
	}
	if _, err := m.CopyIn(a, make([]byte, 1)); err != abi.EFAULT {
		t.Fatalf("reading PROT_NONE memory: %v, want EFAULT", err)
	}
	// Using a piece of the reservation maps only that piece.
	if err := m.Mprotect(a+pg, pg, rw); err != nil {
		t.Fatal(err)
	}
	fill(t, m, a+pg, pg, 1)
	if fm.mapCalls() != 1 {
		t.Fatalf("mprotect of one page made %d Map calls, want 1", fm.mapCalls())
	}
	checkMachine(t, m, fm)
}

func TestMunmapSplitsAndPunches(t *testing.T) {
	m, fm := newTestMM(t)
	a := mustMmap(t, m, 0x700000, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, m, a, 4*pg, 0x55)
	if err := m.Munmap(a+pg, 2*pg); err != nil {
		t.Fatal(err)
	}
	if n := vmaCount(m); n != 2 {
		t.Fatalf("%d VMAs after unmapping the middle, want 2", n)
	}
	if _, ok := m.Lookup(a + pg); ok {
		t.Fatal("unmapped page still found by Lookup")
	}
	expectBytes(t, m, a+3*pg, bytes.Repeat([]byte{0x55}, pg))
	// Re-mapping the hole reads zeros: the pages went back to the host.
	mustMmap(t, m, a+pg, 2*pg, rw, anon|abi.MAP_FIXED)
	expectBytes(t, m, a+pg, make([]byte, 2*pg))
	if n := vmaCount(m); n != 1 {
		t.Fatalf("%d VMAs after refilling the hole, want 1 (merged)", n)
	}
	checkMachine(t, m, fm)

	for _, tt := range []struct {
		name   string
		addr   abi.Addr
		length uint64
	}{
		{"unaligned", a + 1, pg}, {"zero length", a, 0}, {"past the limit", testLimit - pg, 2 * pg},
	} {
		if err := m.Munmap(tt.addr, tt.length); err != abi.EINVAL {
			t.Errorf("munmap %s: %v, want EINVAL", tt.name, err)
		}
	}
	if err := m.Munmap(0x10000000, 16*pg); err != nil {
		t.Errorf("munmap of a hole: %v, want success", err)
	}
}

func TestMprotectSplitsMergesAndRejectsHoles(t *testing.T) {
	m, fm := newTestMM(t)
	a := mustMmap(t, m, 0x800000, 3*pg, rw, anon|abi.MAP_FIXED)
	if err := m.Mprotect(a+pg, pg, abi.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if n := vmaCount(m); n != 3 {
		t.Fatalf("%d VMAs after protecting the middle, want 3", n)
	}
	if _, err := m.CopyOut(a+pg, []byte{1}); err != abi.EFAULT {
		t.Fatalf("write to read-only page: %v, want EFAULT", err)
	}
	checkMachine(t, m, fm)
	if err := m.Mprotect(a+pg, pg, rw); err != nil {
		t.Fatal(err)
	}
	if n := vmaCount(m); n != 1 {
		t.Fatalf("%d VMAs after restoring, want 1", n)
	}
	checkMachine(t, m, fm)
	if err := m.Mprotect(a+3*pg, 2*pg, abi.PROT_READ); err != abi.ENOMEM {
		t.Fatalf("mprotect starting in a hole: %v, want ENOMEM", err)
	}
	if err := m.Mprotect(a+2*pg, 2*pg, abi.PROT_READ); err != abi.ENOMEM {
		t.Fatalf("mprotect across a hole: %v, want ENOMEM", err)
	}
	if prot, _ := m.Lookup(a + 2*pg); prot != hvf.ProtRead {
		t.Fatalf("mprotect up to a hole left the mapped part %v; Linux changes it", prot)
	}
	checkMachine(t, m, fm)
	if err := m.Mprotect(a+2*pg, pg, rw); err != nil {
		t.Fatal(err)
	}
	if err := m.Mprotect(a+1, pg, abi.PROT_READ); err != abi.EINVAL {
		t.Fatalf("unaligned mprotect: %v, want EINVAL", err)
	}
	if err := m.Mprotect(a, pg, 0x80); err != abi.EINVAL {
		t.Fatalf("unknown prot bits: %v, want EINVAL", err)
	}
	// To PROT_NONE and back: the machine forgets and re-learns the page.
	if err := m.Mprotect(a, pg, abi.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	checkMachine(t, m, fm)
	if err := m.Mprotect(a, pg, abi.PROT_READ|abi.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	checkMachine(t, m, fm)
}

func TestBrkPageGranularity(t *testing.T) {
	m, fm := newTestMM(t)
	// A .bss that ends inside a page: the loader maps its page and puts
	// the break at the next page boundary.
	mustMmap(t, m, 0x400000, 2*pg, rw, anon|abi.MAP_FIXED)
	start := abi.Addr(0x400000 + 2*pg)
	m.SetBrkStart(start)

	if got := m.SetBrk(0); got != start {
		t.Fatalf("brk(0) = %#x, want %#x", uint64(got), uint64(start))
	}
	if got := m.SetBrk(start + 100); got != start+100 {
		t.Fatalf("brk(start+100) = %#x", uint64(got))
	}
	fill(t, m, start, 100, 7)
	calls := fm.mapCalls()
	if got := m.SetBrk(start + 200); got != start+200 || fm.mapCalls() != calls {
		t.Fatalf("growing inside the mapped page: brk %#x, %d new Map calls", uint64(got), fm.mapCalls()-calls)
	}
	fill(t, m, start+100, pg-100, 8) // whole page usable
	if got := m.SetBrk(start + 3*pg + 1); got != start+3*pg+1 {
		t.Fatalf("brk grow = %#x", uint64(got))
	}
	fill(t, m, start+3*pg, pg, 9)
	// Shrinking inside the last page keeps it; crossing a page frees it.
	if got := m.SetBrk(start + 3*pg + 10); got != start+3*pg+10 {
		t.Fatal("shrink inside the page failed")
	}
	expectBytes(t, m, start+3*pg, bytes.Repeat([]byte{9}, pg))
	if got := m.SetBrk(start + pg/2); got != start+pg/2 {
		t.Fatalf("brk shrink = %#x", uint64(got))
	}
	if _, ok := m.Lookup(start + pg); ok {
		t.Fatal("page above the shrunk break is still mapped")
	}
	expectBytes(t, m, start+100, bytes.Repeat([]byte{8}, pg-100))
	// Growing again reads zeros above the old data.
	m.SetBrk(start + 2*pg)
	expectBytes(t, m, start+pg, make([]byte, pg))
	// Below the start or into a mapping: the break does not move.
	if got := m.SetBrk(start - 1); got != start+2*pg {
		t.Fatalf("brk below start = %#x", uint64(got))
	}
	mustMmap(t, m, start+4*pg, pg, rw, anon|abi.MAP_FIXED)
	if got := m.SetBrk(start + 5*pg); got != start+2*pg {
		t.Fatalf("brk into a mapping = %#x, want unchanged", uint64(got))
	}
	if got := m.SetBrk(start + 4*pg); got != start+2*pg {
		t.Fatalf("brk touching a mapping = %#x, want unchanged (guard page)", uint64(got))
	}
	if got := m.SetBrk(start + 3*pg); got != start+3*pg {
		t.Fatalf("brk one guard page short of a mapping = %#x", uint64(got))
	}
	// The program's own .bss page is never touched by brk.
	if _, ok := m.Lookup(start - 1); !ok {
		t.Fatal("brk shrink unmapped the .bss page")
	}
	checkMachine(t, m, fm)
}

func TestBrkInsideSplitBlock(t *testing.T) {
	m, fm := newTestMM(t)
	start := abi.Addr(0x1000000)
	m.SetBrkStart(start)
	m.SetBrk(start + 4*pg)
	fill(t, m, start, 4*pg, 3)
	// Split the heap: the middle page read-only.
	if err := m.Mprotect(start+pg, 2*pg, abi.PROT_READ); err != nil {
		t.Fatal(err)
	}
	// Shrink to the middle of the read-only block, at a sub-page break.
	if got := m.SetBrk(start + pg + 123); got != start+pg+123 {
		t.Fatalf("brk = %#x", uint64(got))
	}
	if _, ok := m.Lookup(start + pg); !ok {
		t.Fatal("page holding the break was unmapped")
	}
	if _, ok := m.Lookup(start + 2*pg); ok {
		t.Fatal("page past the break is still mapped")
	}
	expectBytes(t, m, start+pg, bytes.Repeat([]byte{3}, pg))
	// Grow again past the split: new pages are RW and zero.
	if got := m.SetBrk(start + 3*pg); got != start+3*pg {
		t.Fatalf("brk regrow = %#x", uint64(got))
	}
	if prot, _ := m.Lookup(start + 2*pg); prot != hvf.ProtRead|hvf.ProtWrite {
		t.Fatalf("regrown heap page prot %v", prot)
	}
	expectBytes(t, m, start+2*pg, make([]byte, pg))
	checkMachine(t, m, fm)
}

func TestMremapKeepsData(t *testing.T) {
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i/pg)
		}
		return b
	}
	tests := []struct {
		name      string
		blockNext bool
		flags     int
		newLen    uint64
		fixedTo   abi.Addr
		wantMoved bool
		wantErr   error
	}{
		{"grow in place when free", false, 0, 4 * pg, 0, false, nil},
		{"grow moves when blocked", true, abi.MREMAP_MAYMOVE, 4 * pg, 0, true, nil},
		{"grow blocked without MAYMOVE", true, 0, 4 * pg, 0, false, abi.ENOMEM},
		{"shrink stays", false, 0, pg, 0, false, nil},
		{"fixed move", false, abi.MREMAP_MAYMOVE | abi.MREMAP_FIXED, 2 * pg, 0x3000000, true, nil},
		{"fixed move and shrink", false, abi.MREMAP_MAYMOVE | abi.MREMAP_FIXED, pg, 0x3000000, true, nil},
		{"fixed without MAYMOVE", false, abi.MREMAP_FIXED, 2 * pg, 0x3000000, false, abi.EINVAL},
		{"dontunmap move", false, abi.MREMAP_MAYMOVE | abi.MREMAP_DONTUNMAP, 2 * pg, 0, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fm := newTestMM(t)
			old := mustMmap(t, m, 0x2000000, 2*pg, rw, anon|abi.MAP_FIXED)
			data := pattern(2 * pg)
			if _, err := m.CopyOut(old, data); err != nil {
				t.Fatal(err)
			}
			if tt.blockNext {
				mustMmap(t, m, old+2*pg, pg, abi.PROT_READ, anon|abi.MAP_FIXED)
			}
			got, err := m.Mremap(old, 2*pg, tt.newLen, tt.flags, tt.fixedTo)
			if err != tt.wantErr {
				t.Fatalf("mremap: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				expectBytes(t, m, old, data)
				return
			}
			if moved := got != old; moved != tt.wantMoved {
				t.Fatalf("mremap returned %#x (moved %v), want moved %v", uint64(got), moved, tt.wantMoved)
			}
			if tt.fixedTo != 0 && got != tt.fixedTo {
				t.Fatalf("MREMAP_FIXED returned %#x, want %#x", uint64(got), uint64(tt.fixedTo))
			}
			keep := min(tt.newLen, 2*pg)
			expectBytes(t, m, got, data[:keep])
			if tt.newLen > 2*pg {
				expectBytes(t, m, got+2*pg, make([]byte, tt.newLen-2*pg))
			}
			if _, ok := m.Lookup(got + abi.Addr(tt.newLen) - 1); !ok {
				t.Fatal("end of the remapped range is not mapped")
			}
			if tt.newLen < 2*pg && !tt.wantMoved {
				if _, ok := m.Lookup(old + abi.Addr(tt.newLen)); ok {
					t.Fatal("shrunk tail still mapped")
				}
			}
			if tt.wantMoved {
				_, stillMapped := m.Lookup(old)
				if dont := tt.flags&abi.MREMAP_DONTUNMAP != 0; stillMapped != dont {
					t.Fatalf("old range mapped = %v after move (DONTUNMAP %v)", stillMapped, dont)
				}
				if stillMapped {
					expectBytes(t, m, old, make([]byte, 2*pg))
				}
			}
			checkMachine(t, m, fm)
		})
	}
}

func TestMremapErrors(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0x2000000, 2*pg, rw, anon|abi.MAP_FIXED)
	tests := []struct {
		name           string
		old            abi.Addr
		oldLen, newLen uint64
		flags          int
		newAddr        abi.Addr
		want           abi.Errno
	}{
		{"unmapped old address", 0x9000000, pg, 2 * pg, abi.MREMAP_MAYMOVE, 0, abi.EFAULT},
		{"old range past the mapping", a, 3 * pg, 4 * pg, abi.MREMAP_MAYMOVE, 0, abi.EFAULT},
		{"unaligned old address", a + 1, pg, 2 * pg, abi.MREMAP_MAYMOVE, 0, abi.EINVAL},
		{"zero new length", a, pg, 0, abi.MREMAP_MAYMOVE, 0, abi.EINVAL},
		{"unknown flag", a, pg, pg, 0x100, 0, abi.EINVAL},
		{"fixed overlapping the old range", a, 2 * pg, 2 * pg, abi.MREMAP_MAYMOVE | abi.MREMAP_FIXED, a + pg, abi.EINVAL},
		{"zero old length on private memory", a, 0, pg, abi.MREMAP_MAYMOVE, 0, abi.EINVAL},
		{"dontunmap with a size change", a, pg, 2 * pg, abi.MREMAP_MAYMOVE | abi.MREMAP_DONTUNMAP, 0, abi.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Mremap(tt.old, tt.oldLen, tt.newLen, tt.flags, tt.newAddr); err != tt.want {
				t.Fatalf("mremap: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCopyPartialCountsAcrossHoleAndReadOnly(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0x900000, 2*pg, rw, anon|abi.MAP_FIXED)
	mustMmap(t, m, a+2*pg, pg, abi.PROT_READ, anon|abi.MAP_FIXED)
	// [a, a+2pg) RW, [a+2pg, a+3pg) RO, [a+3pg, ...) hole.
	tests := []struct {
		name  string
		write bool
		addr  abi.Addr
		n     int
		want  int
		err   error
	}{
		{"write inside RW", true, a + 10, 100, 100, nil},
		{"write into the read-only page stops there", true, a + 2*pg - 16, 64, 16, abi.EFAULT},
		{"read across RW and RO", false, a + 2*pg - 16, 64, 64, nil},
		{"read into the hole stops there", false, a + 3*pg - 8, 64, 8, abi.EFAULT},
		{"read of a hole", false, a + 3*pg, 8, 0, abi.EFAULT},
		{"read of the null page", false, 0, 8, 0, abi.EFAULT},
		{"read past the limit", false, testLimit - 4, 8, 0, abi.EFAULT},
		{"read of a wrapping range", false, ^abi.Addr(0) - 3, 8, 0, abi.EFAULT},
		{"zero length at an unmapped user address", false, 0, 0, 0, nil},
		{"zero length at the top of user space", false, UserPtrMax, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, tt.n)
			var got int
			var err error
			if tt.write {
				got, err = m.CopyOut(tt.addr, buf)
			} else {
				got, err = m.CopyIn(tt.addr, buf)
			}
			if got != tt.want || err != tt.err {
				t.Fatalf("copy = %d, %v; want %d, %v", got, err, tt.want, tt.err)
			}
			if _, err := m.Slice(tt.addr, tt.n, tt.write); (err == nil) != (tt.err == nil) && tt.n > 0 {
				t.Fatalf("Slice error %v disagrees with copy error %v", err, tt.err)
			}
		})
	}
}

func TestZeroLengthSliceChecksLikeAccessOK(t *testing.T) {
	m, _ := newTestMM(t)
	tests := []struct {
		addr abi.Addr
		want error
	}{
		{0, nil}, {AddrLimit, nil}, {UserPtrMax, nil},
		{0x800000000000, abi.EFAULT}, {0xffff880000000000, abi.EFAULT}, {^abi.Addr(0), abi.EFAULT},
	}
	for _, tt := range tests {
		if _, err := m.Slice(tt.addr, 0, false); err != tt.want {
			t.Errorf("Slice(%#x, 0) error %v, want %v", uint64(tt.addr), err, tt.want)
		}
	}
}

func TestCopyInString(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0xa00000, pg, rw, anon|abi.MAP_FIXED)
	m.CopyOut(a, []byte("hello\x00"))
	m.CopyOut(a+pg-3, []byte("abc")) // runs into the hole
	tests := []struct {
		name   string
		addr   abi.Addr
		maxLen int
		want   string
		err    error
	}{
		{"terminated", a, 100, "hello", nil},
		{"exactly fits", a, 6, "hello", nil},
		{"too long", a, 5, "", abi.ENAMETOOLONG},
		{"runs into a hole", a + pg - 3, 100, "", abi.EFAULT},
		{"unmapped", 0x10, 100, "", abi.EFAULT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := m.CopyInString(tt.addr, tt.maxLen)
			if s != tt.want || err != tt.err {
				t.Fatalf("CopyInString = %q, %v; want %q, %v", s, err, tt.want, tt.err)
			}
		})
	}
}

func TestMadviseDontneedZeroesPrivateMemory(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0xb00000, 2*pg, rw, anon|abi.MAP_FIXED)
	fill(t, m, a, 2*pg, 0x77)
	if err := m.Madvise(a, pg, abi.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, a, make([]byte, pg))
	expectBytes(t, m, a+pg, bytes.Repeat([]byte{0x77}, pg))
	if err := m.Madvise(a, pg, abi.MADV_WILLNEED); err != nil {
		t.Fatalf("MADV_WILLNEED: %v", err)
	}
	for _, tt := range []struct {
		advice int
		want   error
	}{
		{9999, abi.EINVAL}, {abi.MADV_HWPOISON, abi.EINVAL}, {abi.MADV_REMOVE, abi.EINVAL},
	} {
		if err := m.Madvise(a, pg, tt.advice); err != tt.want {
			t.Errorf("madvise(%d) on private anonymous memory: %v, want %v", tt.advice, err, tt.want)
		}
	}
	// MADV_FREE may drop pages lazily; it keeps them here.
	if err := m.Madvise(a+pg, pg, abi.MADV_FREE); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, a+pg, bytes.Repeat([]byte{0x77}, pg))
	if err := m.Madvise(a, 4*pg, abi.MADV_NORMAL); err != abi.ENOMEM {
		t.Fatalf("advice over a hole: %v, want ENOMEM", err)
	}
}

func TestNewMMFullLayout(t *testing.T) {
	m, err := NewMM(&fakeMachine{}, AddrLimit)
	if err != nil {
		t.Fatalf("NewMM(AddrLimit): %v", err)
	}
	defer m.Close()
	if m.StackTop() != StackTop || m.mmapBase != MmapBase {
		t.Fatalf("layout: stack top %#x mmap base %#x", uint64(m.StackTop()), uint64(m.mmapBase))
	}
	a := mustMmap(t, m, 0, pg, rw, anon)
	fill(t, m, a, pg, 1)
}

func TestClosedMMRefusesEverything(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0x400000, pg, rw, anon|abi.MAP_FIXED)
	m.SetBrkStart(0x800000)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyIn(a, make([]byte, 8)); err != abi.EFAULT {
		t.Errorf("CopyIn after Close: %v", err)
	}
	if _, err := m.Slice(a, 8, false); err != abi.EFAULT {
		t.Errorf("Slice after Close: %v", err)
	}
	if _, err := m.Mmap(0, pg, rw, anon, -1, 0); err != abi.ENOMEM {
		t.Errorf("Mmap after Close: %v", err)
	}
	if got := m.SetBrk(0x900000); got != 0x800000 {
		t.Errorf("brk after Close moved to %#x", uint64(got))
	}
	if _, ok := m.Lookup(a); ok {
		t.Error("Lookup after Close found a mapping")
	}
}

func TestConcurrentCopiesAndMappingChanges(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0x1000000, 16*pg, rw, anon|abi.MAP_FIXED)
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for i := 0; i < 2000; i++ {
			// The first page is never touched by the other side.
			if _, err := m.CopyOut(a+abi.Addr(i%64), buf); err != nil {
				errs <- err
				return
			}
			m.CopyIn(a+8*pg, buf) // may fault: the page comes and goes
			m.Lookup(a + 8*pg)
		}
	}()
	for i := 0; i < 200; i++ {
		if err := m.Munmap(a+8*pg, pg); err != nil {
			t.Fatal(err)
		}
		mustMmap(t, m, a+8*pg, pg, rw, anon|abi.MAP_FIXED)
		m.Mprotect(a+4*pg, pg, abi.PROT_READ)
		m.Mprotect(a+4*pg, pg, rw)
	}
	<-done
	select {
	case err := <-errs:
		t.Fatalf("copy to a stable page failed during mapping changes: %v", err)
	default:
	}
}
