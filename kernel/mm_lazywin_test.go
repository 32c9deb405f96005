package kernel

import (
	"bytes"
	"os"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// winFileAt reports whether the window shows the file of the VMA at a.
func winFileAt(m *MM, a abi.Addr) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i := m.find(a)
	return i < len(m.vmas) && m.vmas[i].start <= a && m.vmas[i].winFile
}

// A direct VMA is read from its file: small copies pread it and leave the
// window alone, a view (Slice) or a copy across VMAs maps the window onto
// the file first; nothing lands in RAM either way.
func TestLazyWindowReadsTheFile(t *testing.T) {
	m, fm := newTestMM(t)
	f, content := directFile(t, 4*pg)
	copy(content[2*pg+100:], "a string\x00")
	if err := os.WriteFile(f.Name(), content, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := m.Mmap(0x1000000, 4*pg, abi.PROT_READ, abi.MAP_PRIVATE|abi.MAP_FIXED, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	anonAt := mustMmap(t, m, a+4*pg, pg, rw, anon|abi.MAP_FIXED)
	fill(t, m, anonAt, pg, 0x5a)

	expectBytes(t, m, a+pg+7, content[pg+7:pg+300])
	if s, err := m.CopyInString(a+2*pg+100, 64); err != nil || s != "a string" {
		t.Fatalf("CopyInString = %q, %v", s, err)
	}
	if winFileAt(m, a) {
		t.Fatal("small reads mapped the window")
	}
	view, err := m.Slice(a+pg, 2*pg, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(view, content[pg:3*pg]) || !winFileAt(m, a+pg) {
		t.Fatalf("Slice shows %x..., window shows the file: %v", view[:8], winFileAt(m, a+pg))
	}
	// Across the direct VMA's end into private RAM.
	got := make([]byte, 2*pg)
	if _, err := m.CopyIn(a+3*pg, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:pg], content[3*pg:]) || !bytes.Equal(got[pg:], bytes.Repeat([]byte{0x5a}, pg)) {
		t.Fatal("a copy across a direct VMA and RAM read the wrong bytes")
	}
	if ramData(t, m, abi.Range{Start: a, End: a + 4*pg}) {
		t.Fatal("reading a direct VMA put pages in RAM")
	}
	checkMachine(t, m, fm)

	// Replaced by private memory, shown or not, it reads RAM again.
	for _, at := range []abi.Addr{a, a + pg} {
		mustMmap(t, m, at, pg, rw, anon|abi.MAP_FIXED)
		expectBytes(t, m, at, make([]byte, pg))
		fill(t, m, at, pg, 0x33)
		expectBytes(t, m, at, bytes.Repeat([]byte{0x33}, pg))
	}
	checkMachine(t, m, fm)
}

// Mincore and mlock of a direct VMA see its file's pages.
func TestLazyWindowMincoreSeesTheFile(t *testing.T) {
	m, _ := newTestMM(t)
	f, content := directFile(t, 2*pg)
	a, err := m.Mmap(0, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, a, content) // in the page cache now
	vec := make([]byte, 2)
	if err := m.Mincore(a, vec); err != nil {
		t.Fatal(err)
	}
	if vec[0] != 1 || vec[1] != 1 {
		t.Fatalf("mincore of a read file mapping = %v, want resident", vec)
	}
	if ramData(t, m, abi.Range{Start: a, End: a + 2*pg}) {
		t.Fatal("mincore of a direct VMA put pages in RAM")
	}
}
