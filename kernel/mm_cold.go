package kernel

// Cold copies. A copy between the guestproc and guest memory through the
// host window costs a host page fault on every page this guestproc has not
// touched through the window yet: 5-12 µs each on a PVM host, against
// 1.5-3 µs for a pread or pwrite of the RAM memfd, which maps nothing
// (both measured here). A fresh process (a fork child, an exec) touches
// dozens of such pages once each: its stack, argument strings, the vDSO,
// a few syscall buffers. So small copies of private memory to pages seen
// fewer than coldTouches times go through the memfd, and later ones take
// the window, faulting once to be as cheap as a memcpy from then on. It
// also keeps the window's page tables small, which a process's end frees.

import (
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

const (
	// coldCopyMax is the largest copy that may bypass the window: a
	// large one touches many pages and amortises the faults (reads
	// fault around), or is a bulk transfer that wants the window.
	coldCopyMax = 16 << 10
	// coldTouches is how many copies a page gets through the memfd
	// before the window takes it.
	coldTouches = 8
	// coldPages bounds the pages tracked per address space; beyond it
	// every page counts as warm.
	coldPages = 4096
)

// windowHeat counts the copies made through the memfd per page.
type windowHeat struct {
	mu    sync.Mutex
	pages map[abi.Addr]uint8
}

// cold reports whether a copy of r should go through the memfd, and
// counts it if so: every page of r has had fewer than coldTouches.
func (h *windowHeat) cold(r abi.Range) bool {
	if r.Len() > coldCopyMax {
		return false
	}
	first, last := r.Start.RoundDown(), (r.End - 1).RoundDown()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pages == nil {
		h.pages = make(map[abi.Addr]uint8)
	}
	for p := first; p <= last; p += abi.PageSize {
		if h.pages[p] >= coldTouches {
			return false
		}
	}
	for p := first; p <= last; p += abi.PageSize {
		if _, ok := h.pages[p]; !ok && len(h.pages) >= coldPages {
			return false
		}
		h.pages[p]++
	}
	return true
}

// coldCopy copies between b and guest memory at addr through the RAM
// memfd (out: into guest memory) if the range is private RAM (ram) and
// cold; ok false means the caller copies through the window.
// Preconditions: m.mu held; [addr, addr+len(b)) accessible.
func (m *MM) coldCopy(addr abi.Addr, b []byte, out, ram bool) (ok bool) {
	if !ram || len(b) == 0 || !m.heat.cold(abi.Range{Start: addr, End: addr + abi.Addr(len(b))}) {
		return false
	}
	if out {
		return m.writeRAM(addr, b)
	}
	for len(b) > 0 {
		n, err := unix.Pread(m.ramfd, b, int64(addr))
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return false // the window copies it all again
		}
		b, addr = b[n:], addr+abi.Addr(n)
	}
	return true
}

// writeRAM writes b into the RAM memfd at guest address addr, which must be
// private RAM; false if it could not (the caller writes through the
// window, all of b again).
// Preconditions: m.mu held.
func (m *MM) writeRAM(addr abi.Addr, b []byte) bool {
	m.noteWrite(abi.Range{Start: addr, End: addr + abi.Addr(len(b))})
	for len(b) > 0 {
		n, err := unix.Pwrite(m.ramfd, b, int64(addr))
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return false
		}
		b, addr = b[n:], addr+abi.Addr(n)
	}
	return true
}
