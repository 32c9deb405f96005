package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// TestSplitWindowCrossesChunks runs the address-space operations over the
// boundary of a window split into separately mapped chunks (what happens
// when the Go heap sits where no contiguous 64 TiB window fits).
func TestSplitWindowCrossesChunks(t *testing.T) {
	splitWindowForTest = 1 << 41
	m, err := NewMM(&fakeMachine{}, 1<<42)
	splitWindowForTest = 0
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.window.whole != nil || len(m.window.chunks) != 2 {
		t.Fatalf("window not split: %d chunks", len(m.window.chunks))
	}
	const boundary abi.Addr = 1 << 41
	a := mustMmap(t, m, boundary-2*pg, 4*pg, rw, anon|abi.MAP_FIXED)
	data := make([]byte, 4*pg)
	for i := range data {
		data[i] = byte(i * 13)
	}
	if n, err := m.CopyOut(a, data); n != len(data) || err != nil {
		t.Fatalf("CopyOut across chunks = %d, %v", n, err)
	}
	expectBytes(t, m, a, data)
	m.CopyOut(boundary-3, []byte("ab\x00"))
	m.CopyOut(boundary-2, []byte("bcd\x00"))
	if s, err := m.CopyInString(boundary-2, 100); s != "bcd" || err != nil {
		t.Fatalf("CopyInString across chunks = %q, %v", s, err)
	}
	if _, err := m.Slice(boundary-8, 16, false); err != abi.EFAULT {
		t.Fatalf("Slice across chunks: %v, want EFAULT", err)
	}
	if b, err := m.Slice(boundary, 16, true); err != nil || len(b) != 16 {
		t.Fatalf("Slice inside a chunk: %v", err)
	}
	vec := make([]byte, 4)
	if err := m.Mincore(a, vec); err != nil || !bytes.Equal(vec, []byte{1, 1, 1, 1}) {
		t.Fatalf("mincore across chunks = %v, %v", vec, err)
	}
	// Move the block (with the strings) away from the boundary.
	m.CopyIn(a, data)
	to, err := m.Mremap(a, 4*pg, 4*pg, abi.MREMAP_MAYMOVE|abi.MREMAP_FIXED, boundary-8*pg)
	if err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, to, data)
	// Shared memory and file contents across the boundary.
	s := mustMmap(t, m, boundary-pg, 2*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS|abi.MAP_FIXED)
	fill(t, m, s, 2*pg, 0x5a)
	expectBytes(t, m, s, bytes.Repeat([]byte{0x5a}, 2*pg))
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, data, 0o644)
	f, _ := os.Open(path)
	defer f.Close()
	p, err := m.Mmap(boundary-pg, 4*pg, abi.PROT_READ, abi.MAP_PRIVATE|abi.MAP_FIXED, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, p, data)
	if err := m.Munmap(boundary-16*pg, 32*pg); err != nil {
		t.Fatal(err)
	}
	a = mustMmap(t, m, boundary-2*pg, 4*pg, rw, anon|abi.MAP_FIXED)
	expectBytes(t, m, a, make([]byte, 4*pg))
}
