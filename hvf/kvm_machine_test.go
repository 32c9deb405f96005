package hvf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// fakeKVM records what a machine asks of KVM and of the MMU notifier.
type fakeKVM struct {
	slots   []kvmUserspaceMemoryRegion
	flushes []span // host ranges
}

// newFakeMachine builds a machine whose system area is a byte slice and
// whose slots and flushes are recorded; guest RAM uses real host mappings
// of real descriptors, as in production.
func newFakeMachine(t *testing.T) (*kvmMachine, *fakeKVM) {
	t.Helper()
	fk := &fakeKVM{}
	b := &kvmBackend{log: hclog.NewNullLogger(), memslots: 32764}
	const limit = 1 << 46
	m := &kvmMachine{
		b: b, log: b.log, vmfd: -1, limit: limit,
		sysBase: limit, mmioSys: mmioPA, mmioExc: mmioPA + pageSize,
		sysFD: -1, chunks: map[uint64]*chunk{}, nextChunkPA: sysSpan,
		sysMem: make([]byte, 256*pageSize), sysNext: sysFixedEnd,
		setSlot: func(r *kvmUserspaceMemoryRegion) error {
			fk.slots = append(fk.slots, *r)
			return nil
		},
		flush: func(host uintptr, n uint64, hostProt int) error {
			fk.flushes = append(fk.flushes, span{uint64(host), uint64(host) + n})
			return nil
		},
	}
	m.sysCommitted = uint64(len(m.sysMem))
	m.pt = pageTables{words: wordsOf(m.sysMem), alloc: m.allocPage}
	if err := m.layoutSystem(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range m.chunks {
			munmapRaw(c.host, chunkSize)
		}
	})
	return m, fk
}

// hostBytes reads n bytes of this process's memory at host address a.
func hostBytes(t *testing.T, a uintptr, n int) []byte {
	t.Helper()
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(a)); err != nil {
		t.Fatalf("read host %#x: %v", a, err)
	}
	return b
}

func patternFD(t *testing.T, size int, seed byte) int {
	t.Helper()
	content := make([]byte, size)
	for i := range content {
		content[i] = seed + byte(i/pageSize)
	}
	return memfdWith(t, size, content)
}

func (m *kvmMachine) hostOf(t *testing.T, gpa uint64) uintptr {
	t.Helper()
	c, ok := m.chunks[gpa>>chunkShift]
	if !ok {
		t.Fatalf("no chunk for %#x", gpa)
	}
	return c.host + uintptr(gpa&(chunkSize-1))
}

func TestMapAddsOneSlotPerChunkAndBacksTheWindow(t *testing.T) {
	m, fk := newFakeMachine(t)
	fd := patternFD(t, 4*pageSize, 0x10)
	if err := m.Map(0x400000, 2*pageSize, ProtRead|ProtWrite, fd, pageSize); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(0x800000, pageSize, ProtRead, fd, 0); err != nil {
		t.Fatal(err)
	}
	if len(fk.slots) != 1 {
		t.Fatalf("slots %+v, want one for chunk 0", fk.slots)
	}
	s := fk.slots[0]
	if s.GuestPhysAddr != sysSpan || s.MemorySize != chunkSize || s.UserspaceAddr != uint64(m.chunks[0].host) {
		t.Errorf("slot %+v", s)
	}
	if got := hostBytes(t, m.hostOf(t, 0x401000), 1); got[0] != 0x12 {
		t.Errorf("window at 0x401000 holds %#x, want fd page 2 (0x12)", got[0])
	}
	if len(fk.flushes) != 0 {
		t.Errorf("fresh mappings flushed %v", fk.flushes)
	}
	if tr, ok := m.pt.walk(0x401000); !ok || !tr.write || tr.exec || !tr.user || tr.pa != sysSpan+0x401000 {
		t.Errorf("PTE %+v ok=%v", tr, ok)
	}
}

func TestMapAcrossChunksSplitsTheDescriptor(t *testing.T) {
	m, fk := newFakeMachine(t)
	fd := patternFD(t, 2*pageSize, 0x40)
	at := uint64(chunkSize - pageSize)
	if err := m.Map(at, 2*pageSize, ProtRead, fd, 0); err != nil {
		t.Fatal(err)
	}
	if len(fk.slots) != 2 || fk.slots[0].GuestPhysAddr != sysSpan || fk.slots[1].GuestPhysAddr != sysSpan+chunkSize {
		t.Fatalf("slots %+v", fk.slots)
	}
	for _, va := range []uint64{at, chunkSize} {
		if tr, ok := m.pt.walk(va); !ok || tr.pa != fk.slots[va>>chunkShift].GuestPhysAddr+va%chunkSize {
			t.Errorf("%#x translates to %+v (ok=%v)", va, tr, ok)
		}
	}
	a := hostBytes(t, m.hostOf(t, at), 1)[0]
	b := hostBytes(t, m.hostOf(t, chunkSize), 1)[0]
	if a != 0x40 || b != 0x41 {
		t.Errorf("pages hold %#x %#x, want 0x40 0x41", a, b)
	}
}

func TestPresentPageChangesFlushTheHostRange(t *testing.T) {
	const base = 0x40000000 // 2 MiB aligned
	tests := []struct {
		name   string
		change func(m *kvmMachine) error
		// flushed guest ranges (converted to host addresses by the test)
		want []span
	}{
		{"protect one 4K page of a 4K mapping", func(m *kvmMachine) error {
			return m.Protect(base+size2M, pageSize, ProtRead)
		}, []span{{base + size2M, base + size2M + pageSize}}},
		{"protect inside a 2M page flushes the block", func(m *kvmMachine) error {
			return m.Protect(base+0x5000, pageSize, ProtRead)
		}, []span{{base, base + size2M}}},
		{"unmap inside a 2M page flushes the rest of the block", func(m *kvmMachine) error {
			return m.Unmap(base+0x5000, pageSize)
		}, []span{{base, base + 0x5000}, {base + 0x6000, base + size2M}}},
		{"same permissions flush nothing", func(m *kvmMachine) error {
			return m.Protect(base, size2M, ProtRead|ProtWrite)
		}, nil},
		{"remapping over a present range flushes it", func(m *kvmMachine) error {
			return m.Map(base+size2M, pageSize, ProtRead, memfdWith(t, pageSize, nil), 0)
		}, []span{{base + size2M, base + size2M + pageSize}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, fk := newFakeMachine(t)
			if err := m.Map(base, size2M+2*pageSize, ProtRead|ProtWrite, memfdWith(t, size2M+2*pageSize, nil), 0); err != nil {
				t.Fatal(err)
			}
			fk.flushes = nil
			if err := tc.change(m); err != nil {
				t.Fatal(err)
			}
			var want []span
			for _, s := range tc.want {
				h := uint64(m.hostOf(t, s.start))
				want = append(want, span{h, h + s.end - s.start})
			}
			if len(fk.flushes) != len(want) {
				t.Fatalf("flushes %v, want %v", fk.flushes, want)
			}
			for i := range want {
				if fk.flushes[i] != want[i] {
					t.Errorf("flush %d = %v, want %v", i, fk.flushes[i], want[i])
				}
			}
		})
	}
}

func TestUnmapDropsTheBacking(t *testing.T) {
	m, _ := newFakeMachine(t)
	fd := patternFD(t, 2*pageSize, 0x70)
	if err := m.Map(0x400000, 2*pageSize, ProtRead|ProtWrite, fd, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Unmap(0x400000, pageSize); err != nil {
		t.Fatal(err)
	}
	if got := hostBytes(t, m.hostOf(t, 0x400000), 1)[0]; got != 0 {
		t.Errorf("unmapped window still shows the descriptor (%#x)", got)
	}
	if got := hostBytes(t, m.hostOf(t, 0x401000), 1)[0]; got != 0x71 {
		t.Errorf("neighbour lost its backing (%#x)", got)
	}
	if _, ok := m.pt.walk(0x400000); ok {
		t.Error("unmapped page still present")
	}
	if err := m.Protect(0x400000, pageSize, ProtRead); err == nil {
		t.Error("Protect of an unmapped page succeeded")
	}
}

func TestReadOnlyDescriptorMapsReadOnly(t *testing.T) {
	m, _ := newFakeMachine(t)
	path := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0x5a}, pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := m.Map(0x400000, pageSize, ProtRead|ProtWrite, fd, 0); err == nil {
		t.Fatal("writable shared mapping of a read-only descriptor succeeded")
	}
	if err := m.Map(0x400000, pageSize, ProtRead, fd, 0); err != nil {
		t.Fatal(err)
	}
	if got := hostBytes(t, m.hostOf(t, 0x400000), 1)[0]; got != 0x5a {
		t.Errorf("window holds %#x", got)
	}
	err = m.Protect(0x400000, pageSize, ProtRead|ProtWrite)
	if err == nil || !errors.Is(err, unix.EACCES) {
		t.Errorf("Protect RW on a read-only descriptor: %v, want EACCES", err)
	}
}

func TestMapRejectsBadRanges(t *testing.T) {
	m, _ := newFakeMachine(t)
	fd := memfdWith(t, pageSize, nil)
	tests := []struct {
		name       string
		addr, size uint64
		off        int64
	}{
		{"unaligned address", 0x400001, pageSize, 0},
		{"unaligned length", 0x400000, 100, 0},
		{"empty", 0x400000, 0, 0},
		{"beyond AddrLimit", 1 << 46, pageSize, 0},
		{"wrapping", 1<<64 - pageSize, 2 * pageSize, 0},
		{"unaligned offset", 0x400000, pageSize, 12},
	}
	for _, tc := range tests {
		if err := m.Map(tc.addr, tc.size, ProtRead, fd, tc.off); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestChunksAreAllocatedCompactlyAroundThePCIHole(t *testing.T) {
	m, fk := newFakeMachine(t)
	fd := memfdWith(t, pageSize, nil)
	vas := []uint64{0x3fff_0000_0000, 0x400000, 0x2f00_0000_0000, 0x5_0000_0000}
	for _, va := range vas {
		if err := m.Map(va, pageSize, ProtRead, fd, 0); err != nil {
			t.Fatal(err)
		}
	}
	want := []uint64{1 << 30, 2 << 30, 4 << 30, 5 << 30}
	if len(fk.slots) != len(want) {
		t.Fatalf("slots %+v", fk.slots)
	}
	for i, w := range want {
		if fk.slots[i].GuestPhysAddr != w {
			t.Errorf("chunk %d at GPA %#x, want %#x", i, fk.slots[i].GuestPhysAddr, w)
		}
		if tr, ok := m.pt.walk(vas[i]); !ok || tr.pa != w+vas[i]%chunkSize {
			t.Errorf("%#x translates to %+v", vas[i], tr)
		}
	}
}

func TestProtNoneReservationsTakeNoSlotUntilAccessible(t *testing.T) {
	m, fk := newFakeMachine(t)
	const base, size = 0x1000_0000_0000, 3 << 30
	if err := m.Map(base, size, 0, memfdWith(t, pageSize, nil), 0); err != nil {
		t.Fatal(err)
	}
	if len(fk.slots) != 0 || len(m.chunks) != 3 {
		t.Fatalf("PROT_NONE map: %d slots, %d chunks", len(fk.slots), len(m.chunks))
	}
	if err := m.Protect(base+chunkSize+0x5000, pageSize, ProtRead|ProtWrite); err != nil {
		t.Fatal(err)
	}
	if len(fk.slots) != 1 || fk.slots[0].GuestPhysAddr != sysSpan || fk.slots[0].UserspaceAddr != uint64(m.chunks[(base+chunkSize)>>chunkShift].host) {
		t.Fatalf("slots %+v", fk.slots)
	}
	if tr, ok := m.pt.walk(base + chunkSize + 0x5000); !ok || tr.pa != sysSpan+0x5000 {
		t.Errorf("translation %+v ok=%v", tr, ok)
	}
}

// TestSlotBudgetRefusesWithENOMEM: past the VM's chunk budget an
// accessible Map fails with ENOMEM instead of giving KVM more slots (whose
// metadata the host allocates whether the guest touches them or not),
// and what is inside the budget still maps.
func TestSlotBudgetRefusesWithENOMEM(t *testing.T) {
	m, fk := newFakeMachine(t)
	m.b.maxChunks = 2
	const base = 0x1000_0000_0000
	fd := memfdWith(t, pageSize, nil)
	if err := m.Map(base, 2*chunkSize, ProtRead|ProtWrite, fd, 0); err != nil {
		t.Fatalf("map within the budget: %v", err)
	}
	err := m.Map(base+4*chunkSize, pageSize, ProtRead, fd, 0)
	if !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("map past the budget: %v, want ENOMEM", err)
	}
	if len(fk.slots) != 2 {
		t.Fatalf("%d slots, want the budget's 2", len(fk.slots))
	}
	// A refused Map changes nothing: not even reservations of chunks
	// it would have covered.
	chunks := len(m.chunks)
	if err := m.Map(base+16*chunkSize, 8*chunkSize, ProtRead|ProtWrite, fd, 0); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("large map past the budget: %v, want ENOMEM", err)
	}
	if len(m.chunks) != chunks || len(fk.slots) != 2 {
		t.Fatalf("refused map left %d chunks (had %d) and %d slots", len(m.chunks), chunks, len(fk.slots))
	}
	// A reservation costs no slot, and a chunk already slotted is free.
	if err := m.Map(base+8*chunkSize, chunkSize, 0, fd, 0); err != nil {
		t.Fatalf("PROT_NONE map past the budget: %v", err)
	}
	if err := m.Map(base+chunkSize, pageSize, ProtRead, fd, 0); err != nil {
		t.Fatalf("remap inside a slotted chunk: %v", err)
	}
}
