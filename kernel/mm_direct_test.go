package kernel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// directFile writes n bytes of a recognisable pattern to a new file and
// opens it read-only.
func directFile(t *testing.T, n int) (*os.File, []byte) {
	t.Helper()
	content := make([]byte, n)
	for i := range content {
		content[i] = byte(i*7 + i/pg)
	}
	path := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, content
}

// ramData reports whether the RAM memfd holds any page in r.
func ramData(t *testing.T, m *MM, r abi.Range) bool {
	t.Helper()
	d, err := unix.Seek(m.ramfd, int64(r.Start), unix.SEEK_DATA)
	if err == unix.ENXIO {
		return false
	}
	if err != nil {
		t.Fatalf("SEEK_DATA: %v", err)
	}
	return abi.Addr(d) < r.End
}

// machineFdAt returns the descriptor the fake machine maps at a.
func machineFdAt(t *testing.T, fm *fakeMachine, a abi.Addr) (fd int, off int64) {
	t.Helper()
	for _, mp := range fm.maps {
		if mp.start <= uint64(a) && uint64(a) < mp.end {
			return mp.fd, mp.off + int64(uint64(a)-mp.start)
		}
	}
	t.Fatalf("machine maps nothing at %#x", uint64(a))
	return -1, 0
}

// sameFile reports whether two descriptors are the same file.
func sameFile(a, b int) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(a, &sa) == nil && unix.Fstat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestDirectMappingReadsTheFileWithoutACopy(t *testing.T) {
	m, fm := newTestMM(t)
	f, content := directFile(t, 4*pg)
	a, err := m.Mmap(0, 3*pg, abi.PROT_READ|abi.PROT_EXEC, abi.MAP_PRIVATE, int(f.Fd()), pg)
	if err != nil {
		t.Fatal(err)
	}
	r := abi.Range{Start: a, End: a + 3*pg}
	expectBytes(t, m, a, content[pg:])
	if ramData(t, m, r) {
		t.Fatal("a read-only private file mapping was copied into RAM")
	}
	fd, off := machineFdAt(t, fm, a+pg)
	if fd == m.ramfd || !sameFile(fd, int(f.Fd())) || off != 2*pg {
		t.Fatalf("machine maps fd %d off %#x at the second page, want the file at %#x", fd, off, 2*pg)
	}
	mi := m.Maps()
	if len(mi) != 1 || mi[0].Shared || !mi[0].Direct || mi[0].Offset != pg {
		t.Fatalf("Maps() = %+v, want one private direct mapping at offset %#x", mi, pg)
	}
	if line := mi[0].String(); !strings.Contains(line, " r-xp ") {
		t.Fatalf("maps line %q, want r-xp", line)
	}
	// The kernel cannot write it: no PROT_WRITE.
	if _, err := m.CopyOut(a, []byte("x")); !errors.Is(err, abi.EFAULT) {
		t.Fatalf("CopyOut into read-only text: %v, want EFAULT", err)
	}
	checkMachine(t, m, fm)
}

func TestDirectMappingMprotectWritableCopiesAndLeavesTheFile(t *testing.T) {
	m, fm := newTestMM(t)
	f, content := directFile(t, 4*pg)
	a, err := m.Mmap(0, 4*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Make the middle two pages writable (text relocations do this).
	if err := m.Mprotect(a+pg, 2*pg, rw); err != nil {
		t.Fatal(err)
	}
	fill(t, m, a+pg+10, 100, 'W')
	want := append([]byte(nil), content...)
	copy(want[pg+10:], bytes.Repeat([]byte{'W'}, 100))
	expectBytes(t, m, a, want)
	onDisk, _ := os.ReadFile(f.Name())
	if !bytes.Equal(onDisk, content) {
		t.Fatal("a write to a private mapping reached the file")
	}
	if fd, _ := machineFdAt(t, fm, a+pg); fd != m.ramfd {
		t.Fatal("the written pages are not mapped from RAM")
	}
	if fd, _ := machineFdAt(t, fm, a); fd == m.ramfd {
		t.Fatal("the untouched first page was copied too")
	}
	if ramData(t, m, abi.Range{Start: a, End: a + pg}) || ramData(t, m, abi.Range{Start: a + 3*pg, End: a + 4*pg}) {
		t.Fatal("pages outside the mprotect range have RAM")
	}
	// Back to read-only: the copy stays (it holds the write).
	if err := m.Mprotect(a, 4*pg, abi.PROT_READ); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, a, want)
	if mi := m.Maps(); len(mi) < 2 || mi[0].Shared || mi[1].Shared {
		t.Fatalf("Maps() = %+v, want private mappings", mi)
	}
	checkMachine(t, m, fm)
}

func TestDirectMappingSurvivesForkAndStaysPrivate(t *testing.T) {
	m, _ := newTestMM(t)
	f, content := directFile(t, 2*pg)
	a, err := m.Mmap(0, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s.RAM)
	if len(s.Regions) != 1 || !s.Regions[0].Direct || s.Regions[0].Fd < 0 {
		t.Fatalf("snapshot regions %+v, want one direct region with its file", s.Regions)
	}
	if d, err := unix.Seek(s.RAM, 0, unix.SEEK_DATA); err != unix.ENXIO {
		t.Fatalf("the snapshot copied file pages (data at %d, %v)", d, err)
	}
	ram, _ := unix.FcntlInt(uintptr(s.RAM), unix.F_DUPFD_CLOEXEC, 0)
	cfm := &fakeMachine{}
	child, err := NewMMFromSnapshot(cfm, testLimit, &Snapshot{RAM: ram, Regions: s.Regions})
	if err != nil {
		unix.Close(ram)
		t.Fatal(err)
	}
	defer child.Close()
	expectBytes(t, child, a, content)
	if fd, _ := machineFdAt(t, cfm, a); fd == child.ramfd || !sameFile(fd, int(f.Fd())) {
		t.Fatal("the child does not map the file")
	}
	if err := child.Mprotect(a, pg, rw); err != nil {
		t.Fatal(err)
	}
	fill(t, child, a, 8, 'C')
	expectBytes(t, m, a, content) // the parent still reads the file
	onDisk, _ := os.ReadFile(f.Name())
	if !bytes.Equal(onDisk, content) {
		t.Fatal("the child's write reached the file")
	}
	if mi := child.Maps(); mi[0].Shared || mi[0].Direct || !mi[1].Direct {
		t.Fatalf("child Maps() = %+v, want a private copy then the direct rest", mi)
	}
}

func TestDirectMappingRemapDiscardUnmap(t *testing.T) {
	m, fm := newTestMM(t)
	f, content := directFile(t, 3*pg)
	a, err := m.Mmap(0, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	// MADV_DONTNEED on a private file mapping reads the file again.
	if err := m.Madvise(a, 2*pg, abi.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, a, content[:2*pg])
	// mremap moves private pages: the moved mapping holds the file data,
	// grows with the file's next page and stays private.
	b, err := m.Mremap(a, 2*pg, 3*pg, abi.MREMAP_MAYMOVE|abi.MREMAP_FIXED, 0x7000000000)
	if err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, b, content)
	if err := m.Mprotect(b, 3*pg, rw); err != nil {
		t.Fatal(err)
	}
	fill(t, m, b, 4, 'M')
	onDisk, _ := os.ReadFile(f.Name())
	if !bytes.Equal(onDisk, content) {
		t.Fatal("a write after mremap reached the file")
	}
	// An anonymous mapping over an unmapped direct range reads zeros.
	c, err := m.Mmap(0, pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Munmap(c, pg); err != nil {
		t.Fatal(err)
	}
	d := mustMmap(t, m, c, pg, rw, anon|abi.MAP_FIXED)
	expectBytes(t, m, d, make([]byte, pg))
	fill(t, m, d, pg, 1) // writes RAM, not the file
	onDisk, _ = os.ReadFile(f.Name())
	if !bytes.Equal(onDisk, content) {
		t.Fatal("anonymous memory over an old direct range wrote the file")
	}
	checkMachine(t, m, fm)
}

func TestDirectMappingPastEndOfFile(t *testing.T) {
	m, _ := newTestMM(t)
	f, content := directFile(t, pg+100)
	a, err := m.Mmap(0, 3*pg, abi.PROT_READ, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The page holding EOF reads the file then zeros; pages wholly past
	// EOF are not readable by the kernel (a guest gets SIGBUS there, as on
	// Linux) and never crash the host.
	expectBytes(t, m, a, append(append([]byte(nil), content...), make([]byte, pg-100)...))
	buf := make([]byte, 2*pg)
	if n, err := m.CopyIn(a+pg, buf); !errors.Is(err, abi.EFAULT) || n != pg {
		t.Fatalf("CopyIn across EOF = %d, %v; want %d, EFAULT", n, err, pg)
	}
	// Another process truncates the file under the mapping.
	if err := os.Truncate(f.Name(), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyIn(a+pg, buf[:10]); !errors.Is(err, abi.EFAULT) {
		t.Fatalf("CopyIn past the new EOF: %v, want EFAULT", err)
	}
	// Made writable, it becomes a private copy of what the file holds now.
	if err := m.Mprotect(a, 3*pg, abi.PROT_READ|abi.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3*pg)
	copy(want, content[:10])
	expectBytes(t, m, a, want)
}

func TestDirectMappingProtNoneThenReadable(t *testing.T) {
	m, fm := newTestMM(t)
	f, content := directFile(t, 2*pg)
	a, err := m.Mmap(0, 2*pg, abi.PROT_NONE, abi.MAP_PRIVATE, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(fm.maps) != 0 {
		t.Fatalf("PROT_NONE mapping given to the machine: %+v", fm.maps)
	}
	if err := m.Mprotect(a, 2*pg, abi.PROT_READ); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, a, content)
	if fd, _ := machineFdAt(t, fm, a); fd == m.ramfd {
		t.Fatal("a mapping made readable was copied")
	}
	if fm.maps[0].prot != hvf.ProtRead {
		t.Fatalf("machine prot %v, want read", fm.maps[0].prot)
	}
	checkMachine(t, m, fm)
}
