package kernel

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestFaultSafeTurnsSIGBUSIntoEFAULT(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 2*pg), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, 2*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	// The file shrinks under a copy that was checked against its old size.
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 2*pg)
	if err := faultSafe(true, func() { copy(dst, b) }); err != abi.EFAULT {
		t.Fatalf("copy from a truncated mapping: %v, want EFAULT", err)
	}
	if err := faultSafe(true, func() {}); err != nil {
		t.Fatalf("quiet copy: %v", err)
	}
	defer func() {
		if r := recover(); r != "other" {
			t.Fatalf("a panic that is not a fault was swallowed or changed: %v", r)
		}
	}()
	faultSafe(true, func() { panic("other") })
}

func TestCopyFromSharedFileTruncatedByAnotherWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, make([]byte, 4*pg), 0o644)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	m, _ := newTestMM(t)
	a, err := m.Mmap(0, 4*pg, rw, abi.MAP_SHARED, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(pg)
	if n, err := m.CopyIn(a, make([]byte, 4*pg)); n != pg || err != abi.EFAULT {
		t.Fatalf("CopyIn over a truncated file = %d, %v; want %d, EFAULT", n, err, pg)
	}
	if _, err := m.CopyOut(a+2*pg, []byte{1}); err != abi.EFAULT {
		t.Fatalf("CopyOut past the new end: %v, want EFAULT", err)
	}
}
