package ptrace

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// extraPages is the span the write-tracking test maps at extraAddr.
const extraPages = 16

func page(i uint64) uint64 { return extraAddr + i*pageSize }

// newTrackedGuest starts a guest whose code stores RAX at each of addrs
// in turn, with a getpid exit after each store, and maps extraPages pages
// of RAM at extraAddr (memfd offset = address, as the kernel's RAM).
func newTrackedGuest(t *testing.T, addrs ...uint64) (*guest, *WriteTracker) {
	t.Helper()
	var a asm
	for _, addr := range addrs {
		a.storeRAX(addr).movEAX(39).syscall()
	}
	loop := a.at()
	a.movEAX(39).syscall().jmpTo(loop)
	g := newGuest(t, a.b)
	if err := g.m.Map(extraAddr, extraPages*pageSize, hvf.ProtRead|hvf.ProtWrite, g.fd, extraAddr); err != nil {
		t.Fatal(err)
	}
	w, err := g.m.TrackWrites()
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		t.Skipf("no asynchronous userfaultfd write protection on this host: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return g, w
}

func TestWriteTrackerReportsWhatTheGuestWrote(t *testing.T) {
	g, w := newTrackedGuest(t, page(1), page(5), page(6), page(15))
	all := []Range{{extraAddr, page(extraPages)}}
	// The first look: everything (never protected), then nothing.
	if got, err := w.Written(all); err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("first scan = %v, %v; want the whole span", got, err)
	}
	if got, err := w.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("second scan = %v, %v; want nothing", got, err)
	}
	for range 4 {
		g.expectSyscall(39)
	}
	// A write of the tracer's own (the kernel's, through its window) is
	// not the stub's: the caller counts those.
	g.setWord(page(9), 7)
	want := []Range{{page(1), page(2)}, {page(5), page(7)}, {page(15), page(16)}}
	if got, err := w.Written(all); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after the guest's stores: %v, %v; want %v", got, err, want)
	}
	if got, err := w.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("looked at again: %v, %v; want nothing", got, err)
	}
	if g.word(page(5)) != 39 {
		t.Errorf("the guest's store did not land: %#x", g.word(page(5)))
	}
}

func TestWriteTrackerSeesAMappingMadeAnewAsWritten(t *testing.T) {
	g, w := newTrackedGuest(t)
	all := []Range{{extraAddr, page(extraPages)}}
	w.Written(all)
	if got, err := w.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("second scan = %v, %v; want nothing", got, err)
	}
	// Pages 2-3 mapped anew, onto other pages of the file (as a move of
	// memory would): the new mapping's pages read as written, once.
	if err := g.m.Map(page(2), 2*pageSize, hvf.ProtRead|hvf.ProtWrite, g.fd, int64(page(8))); err != nil {
		t.Fatal(err)
	}
	want := []Range{{page(2), page(4)}}
	if got, err := w.Written(all); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after a new mapping: %v, %v; want %v", got, err, want)
	}
	if got, err := w.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("looked at again: %v, %v; want nothing", got, err)
	}
}

func TestWriteTrackerRefusesUnmappedRanges(t *testing.T) {
	_, w := newTrackedGuest(t)
	if got, err := w.Written([]Range{{page(extraPages + 4), page(extraPages + 8)}}); err == nil {
		t.Errorf("unmapped range: %v, nil error; want a failure (nothing can be told there)", got)
	}
}
