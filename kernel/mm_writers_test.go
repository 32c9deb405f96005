package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// TestHoldsFileWriters: only a shared mapping of a guest file opened for
// writing keeps that file busy; shared anonymous memory, read-only or
// private file mappings and elfuse's own named mappings do not.
func TestHoldsFileWriters(t *testing.T) {
	_, rwf, rof := testFile(t, "prog", make([]byte, pg), 0o755)
	rw := abi.PROT_READ | abi.PROT_WRITE

	m, _ := newTestMM(t)
	mustMmap(t, m, 0, pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS)
	if _, err := m.Mmap(0, pg, abi.PROT_READ, abi.MAP_SHARED, int(rof.Fd()), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Mmap(0, pg, rw, abi.MAP_PRIVATE, int(rwf.Fd()), 0); err != nil {
		t.Fatal(err)
	}
	named, err := m.Mmap(0, pg, abi.PROT_READ, abi.MAP_SHARED, int(rwf.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	m.nameRange(abi.Range{Start: named, End: named + pg}, "[vvar]")
	if m.HoldsFileWriters() {
		t.Fatal("writers reported without a shared mapping of a guest file open for writing")
	}
	a, err := m.Mmap(0, pg, rw, abi.MAP_SHARED, int(rwf.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HoldsFileWriters() {
		t.Fatal("a shared writable file mapping is not reported")
	}
	if err := m.Munmap(a, pg); err != nil {
		t.Fatal(err)
	}
	if m.HoldsFileWriters() {
		t.Fatal("writers reported after the munmap")
	}
}
