package kernel

// Lazy windows for direct VMAs.
//
// The window used to show every direct VMA's file from its mmap on, and
// the RAM memfd again from its munmap. Each of those is an mmap(MAP_FIXED)
// over the window, which unmaps what was there: in a guestproc whose
// threads ran on several CPUs that is a TLB shootdown, an interrupt to
// every other CPU, costly on a PVM host (perf of the shell loop: 13% of
// the fork child's guestproc). An exec maps a dozen direct VMAs (the
// program's and every library's text and read-only data) and the
// guestproc reads few of them, a string in .rodata here and there. So the
// window shows a direct VMA's file only from the guestproc's first access
// through the window (winFile); a small read inside one such VMA preads
// the file instead, and a VMA the window never showed needs nothing
// restored at munmap or exec.

import (
	"bytes"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// lazyIn reports whether r touches a direct VMA the window does not show.
// Preconditions: m.mu held.
func (m *MM) lazyIn(r abi.Range) bool {
	for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
		if v := &m.vmas[i]; v.direct && !v.winFile {
			return true
		}
	}
	return false
}

// showFiles maps the window onto the file of every direct VMA in r that
// it does not show yet. Preconditions: m.mu held for writing.
func (m *MM) showFiles(r abi.Range) error {
	for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
		v := &m.vmas[i]
		if !v.direct || v.winFile {
			continue
		}
		v.winFile = true
		if err := m.windowMap(v, v.rng()); err != nil {
			v.winFile = false
			return err
		}
	}
	return nil
}

// rlockShowing takes m.mu for reading, with the window showing every
// direct VMA in [addr, addr+n). When one is not shown, fromFile (if not
// nil) first gets to serve the access from the file under the read lock:
// done then means it did, and no lock is held. On failure (the window
// could not be mapped: EFAULT for the access) no lock is held either.
func (m *MM) rlockShowing(addr abi.Addr, n uint64, fromFile func() bool) (done bool, err error) {
	end, ok := addr.AddLength(n)
	if !ok || end > m.limit {
		end = m.limit
	}
	r := abi.Range{Start: addr, End: max(addr, end)}
	m.mu.RLock()
	for m.lazyIn(r) {
		if fromFile != nil && fromFile() {
			m.mu.RUnlock()
			return true, nil
		}
		m.mu.RUnlock()
		m.mu.Lock()
		err := m.showFiles(r)
		m.mu.Unlock()
		if err != nil {
			return false, abi.EFAULT
		}
		m.mu.RLock()
	}
	return false, nil
}

// directVMA returns the direct VMA the window does not show that holds
// all of [addr, addr+n) within its file, or nil.
// Preconditions: m.mu held.
func (m *MM) directVMA(addr abi.Addr, n uint64) *vma {
	i := m.find(addr)
	if i == len(m.vmas) {
		return nil
	}
	v := &m.vmas[i]
	end, ok := addr.AddLength(n)
	if !ok || v.start > addr || !v.direct || v.winFile || !v.readable() || end > v.end || end > m.fileEnd(v) {
		return nil
	}
	return v
}

// preadDirect reads guest memory at addr into dst from the file of the
// direct VMA holding it, when the window does not show that VMA; false:
// the caller copies through the window.
// Preconditions: m.mu held.
func (m *MM) preadDirect(addr abi.Addr, dst []byte) bool {
	v := m.directVMA(addr, uint64(len(dst)))
	if v == nil {
		return false
	}
	off := int64(v.off + uint64(addr-v.start))
	for len(dst) > 0 {
		n, err := unix.Pread(v.back.fd, dst, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return false // truncated meanwhile: the window path says EFAULT
		}
		dst, off = dst[n:], off+int64(n)
	}
	return true
}

// stringDirect is CopyInString's preadDirect: the string at addr, if it
// ends (NUL) within maxLen bytes and within the page at addr, in a direct
// VMA the window does not show.
// Preconditions: m.mu held.
func (m *MM) stringDirect(addr abi.Addr, maxLen int) (string, bool) {
	n := min(uint64(maxLen), uint64(addr.RoundDown()+abi.PageSize-addr))
	var buf [abi.PageSize]byte
	b := buf[:n]
	if !m.preadDirect(addr, b) {
		return "", false
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i]), true
	}
	return "", false
}
