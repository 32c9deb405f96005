package guestproc

import (
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"golang.org/x/sys/unix"
)

// What a fork child's start leaves to close (its image's descriptors, the
// fork socket) is closed once, by closeLate, and nothing else.
func TestCloseLateClosesWhatWasLeft(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	mine, theirs, err := ipc.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	other, err := unix.Dup(p[0])
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	h := &host{}
	h.closeLater(p[:], mine)
	h.closeLate()
	for _, fd := range append(p[:], mine.FD()) {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("descriptor %d: %v after closeLate, want EBADF", fd, err)
		}
	}
	if _, err := unix.FcntlInt(uintptr(other), unix.F_GETFD, 0); err != nil {
		t.Errorf("a descriptor not left was closed: %v", err)
	}
	h.closeLate() // nothing left: nothing happens
}
