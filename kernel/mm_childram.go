package kernel

// A fork child's RAM. The parent used to copy its private memory into a
// new memfd that the child then mapped a host window onto; the child's
// guestproc unmapped that window when the process ended, and every page
// table of it went with it (~0.3 ms a process on a PVM host, perf), and
// the next child mapped a new one. Now the child copies the parent's
// memory itself, from the parent's RAM memfd, into a ChildRAM: the memfd
// and window its guestproc kept from the process it ran before (emptied),
// or new ones. The parent waits only for the copy, not for the child's
// address space to be mapped.

import (
	"fmt"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// ChildRAM is an empty RAM memfd and the host window onto it, for the
// next fork child's address space (NewMMInto takes it).
type ChildRAM struct {
	fd    int
	w     *hostWindow
	limit abi.Addr
}

// NewChildRAM makes an empty RAM of limit bytes and its window.
func NewChildRAM(limit abi.Addr) (*ChildRAM, error) {
	fd, err := newRAM(limit)
	if err != nil {
		return nil, err
	}
	w, err := mapWindow(fd, uint64(limit))
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mm: map %#x-byte host window: %w", uint64(limit), err)
	}
	return &ChildRAM{fd: fd, w: w, limit: limit}, nil
}

// Close releases an unused ChildRAM (nil or taken: nothing to do).
func (c *ChildRAM) Close() {
	if c == nil || c.fd < 0 {
		return
	}
	unmapWindow(c.w)
	unix.Close(c.fd)
	c.fd, c.w = -1, nil
}

// CopyFrom copies the extents of the parent's RAM memfd src into c (the
// child's side of fork; ForkLayout gives them).
func (c *ChildRAM) CopyFrom(src int, extents []abi.Range) error {
	for _, r := range extents {
		if r.Start >= r.End || r.End > c.limit {
			return fmt.Errorf("mm: fork extent [%#x, %#x) out of range: %w", uint64(r.Start), uint64(r.End), abi.EINVAL)
		}
	}
	return copyExtents(src, c.fd, extents)
}

// keepRAM is Close for an MM whose RAM and window a later fork child of
// this guestproc takes over: emptied, with the RAM back in the window
// where files were, and nothing said to the Machine (which the caller
// recycles whole). Nil when they cannot be kept (borrowed RAM, a window
// with host mlocks, a failure); the MM is closed either way.
func (m *MM) keepRAM() *ChildRAM {
	q := newMachineQueue(m.machine)
	m.setMachine(q)
	fd, w, err := m.releaseForExec()
	q.discard()
	if err != nil || fd < 0 {
		return nil
	}
	return &ChildRAM{fd: fd, w: w, limit: m.limit}
}
