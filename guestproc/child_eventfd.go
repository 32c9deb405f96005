package guestproc

import (
	"sync"

	"golang.org/x/sys/unix"
)

// The child-event descriptor: an eventfd that childEvent bumps after each
// child state change, so that a parent's wait4 can wait for it in a raw
// ppoll and be woken by the host kernel directly (kernel/sys_proc_wait_raw.go).
// One per guestproc, which runs one guest process at a time: a count left
// from an earlier process costs its next waiter one spurious look.

var childEvFD struct {
	once sync.Once
	fd   int
}

// childEventFD returns the guestproc's child-event eventfd, or -1 when
// none could be made (waits then block on the channel alone).
func childEventFD() int {
	childEvFD.once.Do(func() {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			fd = -1
		}
		childEvFD.fd = fd
	})
	return childEvFD.fd
}

// ChildEventFD implements the kernel's childEventFDer.
func (h *host) ChildEventFD() int { return childEventFD() }

// bumpChildEventFD makes the child-event descriptor readable.
func bumpChildEventFD() {
	if fd := childEventFD(); fd >= 0 {
		b := [8]byte{1}
		unix.Write(fd, b[:])
	}
}
