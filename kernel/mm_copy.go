package kernel

import (
	"bytes"
	"errors"
	"runtime/debug"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// accessibleEnd returns the end of the longest prefix of [addr, addr+n)
// that is mapped with the needed permission (read, or write if write) and
// backed by memory the host can touch without a fault: pages of a file
// mapping that reads its file (shared, or direct private) past the file's
// end would SIGBUS the host, so they count as inaccessible (EFAULT, as a
// guest touching them would get SIGBUS).
// Preconditions: m.mu held.
func (m *MM) accessibleEnd(addr abi.Addr, n uint64, write bool) abi.Addr {
	e, _, _ := m.accessible(addr, n, write)
	return e
}

// accessible is accessibleEnd that also reports whether the prefix touches
// a mapping that reads a file (which another process may truncate while we
// copy) and whether it is all private RAM (the window shows the RAM memfd
// there, see mm_cold.go). Preconditions: m.mu held.
func (m *MM) accessible(addr abi.Addr, n uint64, write bool) (e abi.Addr, fileBacked, ram bool) {
	ram = true
	end, ok := addr.AddLength(n)
	if !ok || end > m.limit {
		end = m.limit
	}
	at := addr
	for i := m.find(at); at < end && i < len(m.vmas); i++ {
		v := &m.vmas[i]
		if v.start > at {
			break
		}
		if (write && !v.writable()) || (!write && !v.readable()) {
			break
		}
		lim := min(v.end, end)
		if v.shared || v.direct {
			ram = false
		}
		if (v.shared && !v.back.anon) || v.direct {
			lim = min(lim, m.fileEnd(v))
			fileBacked = true
		}
		if lim <= at {
			break
		}
		at = lim
		if lim < v.end {
			break
		}
	}
	return at, fileBacked, ram && at > addr
}

// faultSafe runs a copy that may touch a shared file mapping. The file
// was long enough when checked, but another process may truncate it
// before the copy ends, and touching a page past the new end raises SIGBUS
// in the host: that fault becomes EFAULT (through SetPanicOnFault) rather
// than a crash. Other copies need no such care: private memory lives in
// the RAM memfd, sized to the whole address space.
func faultSafe(fileBacked bool, fn func()) (err error) {
	if !fileBacked {
		fn()
		return nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				err = abi.EFAULT
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// fileEnd is the end of the part of file mapping v (shared or direct) that
// lies over the file (the page holding EOF included).
func (m *MM) fileEnd(v *vma) abi.Addr {
	var st unix.Stat_t
	if err := unix.Fstat(v.back.fd, &st); err != nil {
		return v.start
	}
	size, _ := abi.Addr(st.Size).RoundUp()
	if uint64(size) <= v.off {
		return v.start
	}
	return v.start + abi.Addr(min(uint64(size)-v.off, uint64(v.end-v.start)))
}

// CopyIn reads len(dst) bytes of guest memory at addr. It returns the count
// copied and EFAULT if the range is not entirely readable.
func (m *MM) CopyIn(addr abi.Addr, dst []byte) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	done, err := m.rlockShowing(addr, uint64(len(dst)), func() bool { return m.preadDirect(addr, dst) }) // mm_lazywin.go
	if err != nil {
		return 0, err
	}
	if done {
		return len(dst), nil
	}
	defer m.mu.RUnlock()
	e, fileBacked, ram := m.accessible(addr, uint64(len(dst)), false)
	if e <= addr {
		return 0, abi.EFAULT
	}
	n := 0
	if m.coldCopy(addr, dst[:e-addr], false, ram) { // mm_cold.go
		n = int(e - addr)
	} else if err := faultSafe(fileBacked, func() { n = m.window.copyIn(addr, dst[:e-addr]) }); err != nil {
		return 0, err
	}
	if n < len(dst) {
		return n, abi.EFAULT
	}
	return n, nil
}

// CopyOut writes src to guest memory at addr. It returns the count copied
// and EFAULT if the range is not entirely writable.
func (m *MM) CopyOut(addr abi.Addr, src []byte) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, fileBacked, ram := m.accessible(addr, uint64(len(src)), true)
	if e <= addr {
		return 0, abi.EFAULT
	}
	n := 0
	if m.coldCopy(addr, src[:e-addr], true, ram) { // mm_cold.go
		n = int(e - addr)
	} else if err := faultSafe(fileBacked, func() { n = m.window.copyOut(addr, src[:e-addr]) }); err != nil {
		return 0, err
	}
	if n < len(src) {
		return n, abi.EFAULT
	}
	return n, nil
}

// CopyInString reads a NUL-terminated string at addr. The string and its
// NUL must fit in maxLen bytes (ENAMETOOLONG otherwise); EFAULT if memory
// ends before the NUL.
func (m *MM) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	if maxLen <= 0 {
		return "", abi.ENAMETOOLONG
	}
	var str string
	done, err := m.rlockShowing(addr, uint64(maxLen), func() (ok bool) { // mm_lazywin.go
		str, ok = m.stringDirect(addr, maxLen)
		return ok
	})
	if done || err != nil {
		return str, err
	}
	defer m.mu.RUnlock()
	e, fileBacked, ram := m.accessible(addr, uint64(maxLen), false)
	if e <= addr {
		return "", abi.EFAULT
	}
	// The usual string (a path) lies within one page: read that page's
	// part through the memfd while it is cold (mm_cold.go).
	if pageEnd := min(e, addr.RoundDown()+abi.PageSize); pageEnd > addr {
		var buf [abi.PageSize]byte
		b := buf[:pageEnd-addr]
		if m.coldCopy(addr, b, false, ram) {
			if i := bytes.IndexByte(b, 0); i >= 0 {
				return string(b[:i]), nil
			}
		}
	}
	var s []byte
	found := errors.New("found")
	if ferr := faultSafe(fileBacked, func() {
		err = m.window.pieces(abi.Range{Start: addr, End: e}, func(_ abi.Addr, b []byte) error {
			if i := bytes.IndexByte(b, 0); i >= 0 {
				s = append(s, b[:i]...)
				return found
			}
			s = append(s, b...)
			return nil
		})
	}); ferr != nil {
		return "", ferr
	}
	if err == found {
		return string(s), nil
	}
	if uint64(e-addr) < uint64(maxLen) {
		return "", abi.EFAULT
	}
	return "", abi.ENAMETOOLONG
}

// Slice returns the host view of [addr, addr+n), which must be entirely
// readable (and writable if write), else EFAULT. A zero-length view is
// checked like Linux's access_ok: EFAULT only for a pointer above the
// 47-bit user space (read(fd, p, 0) with a kernel pointer fails there too). The view aliases guest
// memory and stays valid until the range is unmapped or remapped.
func (m *MM) Slice(addr abi.Addr, n int, write bool) ([]byte, error) {
	if n < 0 {
		return nil, abi.EFAULT
	}
	if n == 0 {
		// Linux's access_ok(p, 0): only the pointer's range is checked.
		if addr > UserPtrMax {
			return nil, abi.EFAULT
		}
		return []byte{}, nil
	}
	if _, err := m.rlockShowing(addr, uint64(n), nil); err != nil { // mm_lazywin.go
		return nil, err
	}
	defer m.mu.RUnlock()
	e := m.accessibleEnd(addr, uint64(n), write)
	if uint64(e-addr) < uint64(n) || e <= addr {
		return nil, abi.EFAULT
	}
	b, ok := m.window.span(abi.Range{Start: addr, End: e})
	if !ok {
		return nil, abi.EFAULT // crosses a chunk of a split window (see mapWindow)
	}
	return b, nil
}
