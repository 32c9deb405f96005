package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestSharedAnonymousMemory(t *testing.T) {
	m, fm := newTestMM(t)
	a := mustMmap(t, m, 0, 2*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS)
	fill(t, m, a, 2*pg, 0x42)
	v := m.vmas[0]
	if !v.shared || v.back == nil || !v.back.anon {
		t.Fatalf("shared anonymous mapping has no memfd backing: %+v", v)
	}
	buf := make([]byte, 2*pg)
	if _, err := unix.Pread(v.back.fd, buf, 0); err != nil || !bytes.Equal(buf, bytes.Repeat([]byte{0x42}, 2*pg)) {
		t.Fatalf("the memfd does not hold the guest's writes (%v)", err)
	}
	if fm.maps[0].fd == m.ramfd {
		t.Fatal("machine maps shared memory from the RAM memfd")
	}
	if mi := m.Maps(); len(mi) != 1 || mi[0].Fd != v.back.fd || !mi[0].Shared || mi[0].Name != "/dev/zero (deleted)" {
		t.Fatalf("Maps() = %+v, want the shared memfd", mi)
	}
	var st unix.Stat_t
	unix.Fstat(m.ramfd, &st)
	if st.Blocks != 0 {
		t.Fatalf("shared writes landed in the RAM memfd (%d blocks)", st.Blocks)
	}
	// Growing keeps sharing; unmapping gives the window back to RAM.
	b, err := m.Mremap(a, 2*pg, 3*pg, abi.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatal(err)
	}
	expectBytes(t, m, b, append(bytes.Repeat([]byte{0x42}, 2*pg), make([]byte, pg)...))
	if err := m.Munmap(b, 3*pg); err != nil {
		t.Fatal(err)
	}
	c := mustMmap(t, m, b, 3*pg, rw, anon|abi.MAP_FIXED)
	expectBytes(t, m, c, make([]byte, 3*pg))
	checkMachine(t, m, fm)
}

func TestFileMappings(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), (pg+100)/16+1)[:pg+100]
	path, rwf, rof := testFile(t, "data", content, 0o644)

	t.Run("private copy, zero tail, writes stay private", func(t *testing.T) {
		m, fm := newTestMM(t)
		a, err := m.Mmap(0, 3*pg, rw, abi.MAP_PRIVATE, int(rof.Fd()), 0)
		if err != nil {
			t.Fatal(err)
		}
		expectBytes(t, m, a, content)
		expectBytes(t, m, a+abi.Addr(len(content)), make([]byte, 3*pg-len(content)))
		fill(t, m, a, 10, 'X')
		onDisk, _ := os.ReadFile(path)
		if !bytes.Equal(onDisk, content) {
			t.Fatal("private mapping wrote through to the file")
		}
		if err := m.Madvise(a, pg, abi.MADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
		expectBytes(t, m, a, content[:pg])
		maps := m.Maps()
		if len(maps) != 1 || maps[0].Name != path || maps[0].Shared {
			t.Fatalf("Maps() = %+v, want one private mapping named %s", maps, path)
		}
		checkMachine(t, m, fm)
	})
	t.Run("private at an offset", func(t *testing.T) {
		m, _ := newTestMM(t)
		a, err := m.Mmap(0, pg, abi.PROT_READ, abi.MAP_PRIVATE, int(rof.Fd()), pg)
		if err != nil {
			t.Fatal(err)
		}
		expectBytes(t, m, a, append(append([]byte{}, content[pg:]...), make([]byte, pg-100)...))
	})
	t.Run("shared writes reach the file", func(t *testing.T) {
		m, fm := newTestMM(t)
		a, err := m.Mmap(0, 2*pg, rw, abi.MAP_SHARED, int(rwf.Fd()), 0)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, m, a+5, 3, 'Z')
		if err := m.Msync(a, pg, abi.MS_SYNC); err != nil {
			t.Fatal(err)
		}
		onDisk, _ := os.ReadFile(path)
		if string(onDisk[5:8]) != "ZZZ" {
			t.Fatalf("file holds %q after a shared write", onDisk[:10])
		}
		// The second page holds EOF (readable); a third would fault.
		if _, err := m.CopyIn(a+pg, make([]byte, pg)); err != nil {
			t.Fatalf("reading the EOF page: %v", err)
		}
		if fm.maps[0].fd == m.ramfd {
			t.Fatal("machine maps a shared file from the RAM memfd")
		}
		checkMachine(t, m, fm)
		m.Munmap(a, 2*pg)
		os.WriteFile(path, content, 0o644)
	})
	t.Run("pages past EOF fault instead of crashing", func(t *testing.T) {
		m, _ := newTestMM(t)
		a, err := m.Mmap(0, 4*pg, abi.PROT_READ, abi.MAP_SHARED, int(rof.Fd()), 0)
		if err != nil {
			t.Fatal(err)
		}
		n, err := m.CopyIn(a+pg, make([]byte, 2*pg))
		if n != pg || err != abi.EFAULT {
			t.Fatalf("read across EOF page = %d, %v; want %d, EFAULT", n, err, pg)
		}
	})
	errTests := []struct {
		name  string
		fd    int
		prot  int
		flags int
		want  abi.Errno
	}{
		{"shared writable map of a read-only fd", int(rof.Fd()), rw, abi.MAP_SHARED, abi.EACCES},
		{"directory", dirFd(t, filepath.Dir(path)), abi.PROT_READ, abi.MAP_PRIVATE, abi.ENODEV},
		{"closed descriptor", 1 << 20, abi.PROT_READ, abi.MAP_PRIVATE, abi.EBADF},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestMM(t)
			if _, err := m.Mmap(0, pg, tt.prot, tt.flags, tt.fd, 0); err != tt.want {
				t.Fatalf("mmap: %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("mprotect to write on a read-only shared map", func(t *testing.T) {
		m, _ := newTestMM(t)
		a, err := m.Mmap(0, pg, abi.PROT_READ, abi.MAP_SHARED, int(rof.Fd()), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Mprotect(a, pg, rw); err != abi.EACCES {
			t.Fatalf("mprotect: %v, want EACCES", err)
		}
	})
}

func dirFd(t *testing.T, dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

func TestMincoreReportsResidency(t *testing.T) {
	m, _ := newTestMM(t)
	a := mustMmap(t, m, 0xc00000, 3*pg, rw, anon|abi.MAP_FIXED)
	fill(t, m, a+pg, 1, 1)
	vec := make([]byte, 3)
	if err := m.Mincore(a, vec); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vec, []byte{0, 1, 0}) {
		t.Fatalf("mincore = %v, want [0 1 0]", vec)
	}
	if err := m.Mincore(a, make([]byte, 4)); err != abi.ENOMEM {
		t.Fatalf("mincore over a hole: %v, want ENOMEM", err)
	}
}

// testFile writes content to a new file name in a temporary directory
// and opens it read-write and read-only (closed at the test's end).
func testFile(t *testing.T, name string, content []byte, mode os.FileMode) (path string, rw, ro *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
	rw, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	ro, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return path, rw, ro
}
