package hvf

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRecycleKeepingKeepsOwnAndReadOnlyFiles: a keeping recycle leaves the
// kept file's and read-only files' mappings, drops the others; the next
// process claims what it maps the same way (its window and translations
// untouched), and what it does not claim goes before a vCPU runs.
func TestRecycleKeepingKeepsOwnAndReadOnlyFiles(t *testing.T) {
	m, fk := newFakeMachine(t)
	ram := patternFD(t, 0x800000, 0x10)
	other := patternFD(t, pageSize, 0x50)
	roPath := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(roPath, []byte{0x77}, 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := unix.Open(roPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ro)
	const ramAt, otherAt, roAt = 0x400000, 0x500000, 0x600000
	for _, mp := range []struct {
		at   uint64
		prot Prot
		fd   int
		off  int64
	}{{ramAt, ProtRead | ProtWrite, ram, ramAt}, {otherAt, ProtRead | ProtWrite, other, 0}, {roAt, ProtRead, ro, 0}} {
		if err := m.Map(mp.at, pageSize, mp.prot, mp.fd, mp.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RecycleKeeping([]int{ram}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   uint64
		kept bool
	}{{ramAt, true}, {otherAt, false}, {roAt, true}} {
		if _, ok := m.pt.walk(c.at); ok != c.kept {
			t.Errorf("%#x present after a keeping recycle: %v, want %v", c.at, ok, c.kept)
		}
	}
	if got := hostBytes(t, m.hostOf(t, otherAt), 1)[0]; got != 0 {
		t.Errorf("the dropped window still shows its file (%#x)", got)
	}

	// The next process maps the RAM page again the same way: claimed, no
	// flush; the read-only file it does not map goes at dropStale.
	flushes := len(fk.flushes)
	if err := m.Map(ramAt, pageSize, ProtRead|ProtWrite, ram, ramAt); err != nil {
		t.Fatal(err)
	}
	if len(fk.flushes) != flushes {
		t.Errorf("a claimed map flushed %d ranges", len(fk.flushes)-flushes)
	}
	// Another protection is no claim: the page tables change.
	if err := m.Map(ramAt+pageSize, pageSize, ProtRead, ram, ramAt+pageSize); err != nil {
		t.Fatal(err)
	}
	if !m.stale.Load() {
		t.Fatal("nothing stale left, but the read-only file was not claimed")
	}
	if err := m.dropStale(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.pt.walk(roAt); ok {
		t.Error("an unclaimed mapping of the previous process survived dropStale")
	}
	if tr, ok := m.pt.walk(ramAt); !ok || !tr.write {
		t.Errorf("the claimed page translates to %+v (ok=%v), want writable", tr, ok)
	}
	if got := hostBytes(t, m.hostOf(t, ramAt), 1)[0]; got != 0x10+ramAt/pageSize%256 {
		t.Errorf("the claimed window holds %#x", got)
	}

	// An unmap then the same map (an exec's new image) maps again.
	if err := m.Unmap(ramAt, pageSize); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(ramAt, pageSize, ProtRead|ProtWrite, ram, ramAt); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.pt.walk(ramAt); !ok {
		t.Error("unmap then the same map left nothing mapped")
	}
}
