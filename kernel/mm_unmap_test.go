package kernel

import (
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// unmapCalls counts the recorded Unmap calls since mark.
func (f *fakeMachine) unmapCalls(mark int) int {
	n := 0
	for _, c := range f.calls[mark:] {
		if strings.HasPrefix(c, "unmap ") {
			n++
		}
	}
	return n
}

func TestMunmapGathersNeighbouringMappingsIntoOneMachineCall(t *testing.T) {
	m, fm := newTestMM(t)
	// Three mappings with different permissions (no merging), a one-page
	// hole, then a fourth far away.
	base := abi.Addr(0x10000000)
	mustMmap(t, m, base, pg, abi.PROT_READ, anon|abi.MAP_FIXED)
	mustMmap(t, m, base+pg, pg, rw, anon|abi.MAP_FIXED)
	mustMmap(t, m, base+2*pg, pg, abi.PROT_NONE, anon|abi.MAP_FIXED)
	mustMmap(t, m, base+4*pg, pg, abi.PROT_READ|abi.PROT_EXEC, anon|abi.MAP_FIXED)
	far := base + 4*maxUnmapGap
	mustMmap(t, m, far, pg, rw, anon|abi.MAP_FIXED)
	fill(t, m, base+pg, 8, 1)
	mark := len(fm.calls)
	if err := m.Munmap(base, uint64(far+pg-base)); err != nil {
		t.Fatal(err)
	}
	if n := fm.unmapCalls(mark); n != 2 {
		t.Fatalf("%d Machine.Unmap calls for two groups of mappings, want 2: %v", n, fm.calls[mark:])
	}
	if len(fm.maps) != 0 || vmaCount(m) != 0 {
		t.Fatalf("left mapped: machine %+v, %d VMAs", fm.maps, vmaCount(m))
	}
	// The memory is gone: a new mapping there reads zeros.
	a := mustMmap(t, m, base+pg, pg, rw, anon|abi.MAP_FIXED)
	expectBytes(t, m, a, make([]byte, 8))
}

func TestMmapFixedOverMemoryReplacesItInOneMachineCall(t *testing.T) {
	m, fm := newTestMM(t)
	f, content := directFile(t, 4*pg)
	// ld.so's pattern: reserve the whole library with the first segment's
	// permissions, then place the other segments over it.
	a, err := m.Mmap(0, 4*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	mark := len(fm.calls)
	if _, err := m.Mmap(a+pg, 2*pg, abi.PROT_READ|abi.PROT_EXEC, abi.MAP_PRIVATE|abi.MAP_FIXED, int(f.Fd()), pg); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Mmap(a+3*pg, pg, rw, abi.MAP_PRIVATE|abi.MAP_FIXED, int(f.Fd()), 3*pg); err != nil {
		t.Fatal(err)
	}
	if n := fm.unmapCalls(mark); n != 0 {
		t.Fatalf("%d Machine.Unmap calls before mapping over memory, want none: %v", n, fm.calls[mark:])
	}
	expectBytes(t, m, a, content)
	if fd, _ := machineFdAt(t, fm, a+3*pg); fd != m.ramfd {
		t.Fatal("the writable segment is not mapped from RAM")
	}
	checkMachine(t, m, fm)
	// A PROT_NONE mapping over memory must leave the Machine.
	if _, err := m.Mmap(a, pg, abi.PROT_NONE, anon|abi.MAP_FIXED, -1, 0); err != nil {
		t.Fatal(err)
	}
	checkMachine(t, m, fm)
	// Release leaves nothing in the Machine.
	mark = len(fm.calls)
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
	if len(fm.maps) != 0 {
		t.Fatalf("Release left %+v in the machine", fm.maps)
	}
	if n := fm.unmapCalls(mark); n != 1 {
		t.Fatalf("Release made %d Unmap calls for one group of mappings, want 1", n)
	}
}
