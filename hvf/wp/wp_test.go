package wp

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// A process's own shared mapping of a memfd, as a guestproc's window onto
// guest RAM: its writes are reported, and writes through the file's
// descriptor are not (the caller's to count).
func TestNewSelfReportsThisProcessWrites(t *testing.T) {
	const size = 32 * pageSize
	fd, err := unix.MemfdCreate("wp-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, size); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	tr, err := NewSelf()
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("no asynchronous userfaultfd write protection on this host: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	base := addrOf(mem)
	all := []Range{{Start: base, End: base + size}}
	if got, err := tr.Written(all); err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("first scan = %v, %v; want the whole mapping", got, err)
	}
	if got, err := tr.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("second scan = %v, %v; want nothing", got, err)
	}
	mem[3*pageSize] = 1
	mem[4*pageSize+100] = 2
	mem[20*pageSize+4095] = 3
	if _, err := unix.Pwrite(fd, []byte{9}, 10*pageSize); err != nil {
		t.Fatal(err)
	}
	want := []Range{{Start: base + 3*pageSize, End: base + 5*pageSize}, {Start: base + 20*pageSize, End: base + 21*pageSize}}
	if got, err := tr.Written(all); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after three stores and a pwrite: %v, %v; want %v", got, err, want)
	}
	// Only part of the mapping asked for: only its pages.
	mem[3*pageSize] = 4
	mem[25*pageSize] = 5
	part := []Range{{Start: base, End: base + 8*pageSize}}
	if got, err := tr.Written(part); err != nil || !reflect.DeepEqual(got, []Range{{Start: base + 3*pageSize, End: base + 4*pageSize}}) {
		t.Fatalf("part: %v, %v", got, err)
	}
	if got, err := tr.Written(all); err != nil || !reflect.DeepEqual(got, []Range{{Start: base + 25*pageSize, End: base + 26*pageSize}}) {
		t.Fatalf("the rest: %v, %v", got, err)
	}
}
