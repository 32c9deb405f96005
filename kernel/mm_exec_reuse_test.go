package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// TestReleaseForExecHandsOverAnEmptyWindow: the RAM and window an exec
// keeps show nothing of the old image: private pages are gone, and where
// shared memory or a file was shown the window shows the RAM again.
func TestReleaseForExecHandsOverAnEmptyWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, bytes.Repeat([]byte{'F'}, 2*pg), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	m, fm := newTestMM(t)
	priv := mustMmap(t, m, 0, 2*pg, rw, anon)
	fill(t, m, priv, 2*pg, 0x11)
	shared := mustMmap(t, m, 0, 2*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS)
	fill(t, m, shared, 2*pg, 0x22)
	file, err := m.Mmap(0, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, file, bytes.Repeat([]byte{'F'}, 2*pg))

	ram, w, err := m.releaseForExec()
	if err != nil || ram < 0 {
		t.Fatalf("releaseForExec = %d, %v; want the RAM kept", ram, err)
	}
	n := newMMWith(fm, testLimit, ram, w)
	t.Cleanup(func() { n.Close() })
	var st unix.Stat_t
	if err := unix.Fstat(ram, &st); err != nil || st.Blocks != 0 {
		t.Fatalf("kept RAM holds %d blocks (%v), want none", st.Blocks, err)
	}
	if len(fm.maps) != 0 {
		t.Fatalf("the machine still maps %d ranges of the old image", len(fm.maps))
	}
	for _, a := range []abi.Addr{priv, shared, file} {
		got := mustMmap(t, n, a, 2*pg, rw, anon|abi.MAP_FIXED)
		// Through the window itself (small copies may bypass it).
		view, err := n.Slice(got, 2*pg, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(view, make([]byte, 2*pg)) {
			t.Fatalf("window at %#x shows %x..., want zeros", uint64(got), view[:8])
		}
		view[0] = 0x33
		expectBytes(t, n, got, []byte{0x33})
	}
	checkMachine(t, n, fm)
}

// TestReleaseForExecKeepsNothingLocked: a window with host mlocks is not
// handed on (the locks would stay with the next image).
func TestReleaseForExecKeepsNothingLocked(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0, pg, rw, anon)
	if err := m.Lock(abi.Range{Start: a, End: a + pg}, true, true); err != nil {
		t.Skipf("mlock not allowed here: %v", err)
	}
	ram, w, err := m.releaseForExec()
	if err != nil || ram != -1 || w != nil {
		t.Fatalf("releaseForExec = %d, %v, %v; want a plain release", ram, w != nil, err)
	}
}
