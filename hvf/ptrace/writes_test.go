package ptrace

import (
	"errors"
	"reflect"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/hvf/wp"
)

// extraPages is the span the write-tracking test maps at extraAddr.
const extraPages = 16

func page(i uint64) uint64 { return extraAddr + i*pageSize }

func rng(start, end uint64) wp.Range { return wp.Range{Start: start, End: end} }

// newTrackedGuest starts a guest whose code stores RAX at each of addrs
// in turn, with a getpid exit after each store, and maps extraPages pages
// of RAM at extraAddr (memfd offset = address, as the kernel's RAM).
func newTrackedGuest(t *testing.T, addrs ...uint64) (*guest, *wp.Tracker) {
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
	if errors.Is(err, wp.ErrUnsupported) {
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
	all := []wp.Range{rng(extraAddr, page(extraPages))}
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
	want := []wp.Range{rng(page(1), page(2)), rng(page(5), page(7)), rng(page(15), page(16))}
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
	all := []wp.Range{rng(extraAddr, page(extraPages))}
	w.Written(all)
	if got, err := w.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("second scan = %v, %v; want nothing", got, err)
	}
	// Pages 2-3 mapped anew, onto other pages of the file (as a move of
	// memory would): the new mapping's pages read as written, once.
	if err := g.m.Map(page(2), 2*pageSize, hvf.ProtRead|hvf.ProtWrite, g.fd, int64(page(8))); err != nil {
		t.Fatal(err)
	}
	want := []wp.Range{rng(page(2), page(4))}
	if got, err := w.Written(all); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after a new mapping: %v, %v; want %v", got, err, want)
	}
	if got, err := w.Written(all); err != nil || len(got) != 0 {
		t.Fatalf("looked at again: %v, %v; want nothing", got, err)
	}
}

func TestWriteTrackerRefusesUnmappedRanges(t *testing.T) {
	_, w := newTrackedGuest(t)
	if got, err := w.Written([]wp.Range{rng(page(extraPages+4), page(extraPages+8))}); err == nil {
		t.Errorf("unmapped range: %v, nil error; want a failure (nothing can be told there)", got)
	}
}
