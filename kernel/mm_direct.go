package kernel

import (
	"errors"
	"fmt"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Direct private file mappings.
//
// A private file mapping reads exactly like a shared mapping of the same
// file for as long as nobody writes it. So a private file VMA whose prot has
// no PROT_WRITE (program and library text, read-only data) is backed by the
// file itself: the Machine maps the file at its offset, read-only, like a
// MAP_SHARED mapping, and so does the window once the guestproc reads the
// VMA through it (mm_lazywin.go); nothing is copied into RAM. An
// exec of a 30 MB compiler then costs the pages the guest touches, from the
// host page cache shared with every other process mapping the same file,
// instead of a copy of every mapped byte.
//
// Before such a VMA could be written (mprotect adding PROT_WRITE, mremap,
// which moves private pages) it is materialised: its file data is copied
// into the RAM memfd at offset == address, as for any private mapping, and
// the window and Machine switch to the RAM memfd there. Copies from the
// kernel never write a direct VMA: it has no PROT_WRITE, so CopyOut and
// Slice(write) refuse it with EFAULT.
//
// Pages wholly past the end of the file are mapped too and fault like
// Linux's (SIGBUS for the guest); the kernel's own copies stop at the end of
// the file (accessible) and survive a concurrent truncate (faultSafe).

// directFor reports whether a new private mapping of back with prot reads
// the file directly.
func directFor(shared bool, back *backing, prot int) bool {
	return !shared && back != nil && prot&abi.PROT_WRITE == 0
}

// materialise turns direct VMA v into ordinary private memory: the file
// data goes into RAM, the window and the Machine (with v.prot) map RAM.
// Preconditions: m.mu held for writing; v is in m.vmas and direct.
func (m *MM) materialise(v *vma) error {
	r := v.rng()
	if err := m.punch(r); err != nil { // a vfork child's leftovers, if any
		return abi.ENOMEM
	}
	if v.winFile {
		if err := m.windowRestore(r); err != nil {
			return fmt.Errorf("mm: materialise [%#x, %#x): %w", uint64(r.Start), uint64(r.End), err)
		}
	}
	if err := m.fillFromFile(v.back, v.off, r); err != nil {
		m.windowMap(v, r)
		m.punch(r)
		return err
	}
	v.direct, v.winFile = false, false
	if err := m.machineMap(v, r); err != nil {
		return err
	}
	return nil
}

// materialiseRange materialises every direct VMA inside r.
// Preconditions: m.mu held for writing; r page aligned.
func (m *MM) materialiseRange(r abi.Range) error {
	found := false
	for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
		if m.vmas[i].direct {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	m.splitAt(r.Start)
	m.splitAt(r.End)
	var firstErr error
	for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
		if v := &m.vmas[i]; v.direct {
			if err := m.materialise(v); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	m.mergeRange(r)
	return firstErr
}

// fillFromFile copies the file behind a private mapping into RAM for r,
// starting at file offset off. The part past EOF stays zero. The copy
// happens in the host kernel (sendfile into the RAM memfd at offset ==
// address) so that neither the data nor the page faults pass through this
// process; pread into the window is the fallback.
// Preconditions: m.mu held for writing (the RAM memfd's file position is
// used); r is freshly mapped (zero).
func (m *MM) fillFromFile(b *backing, off uint64, r abi.Range) error {
	done, err := m.sendFile(b, off, r)
	if err == nil {
		return nil
	}
	return m.preadFill(b, off+done, abi.Range{Start: r.Start + abi.Addr(done), End: r.End})
}

// errEOF ends a fill at the end of the file: the rest reads as zeros.
var errEOF = errors.New("eof")

// sendFile copies with sendfile(2) and returns how far it got; nil error
// means all of r was handled (up to EOF).
func (m *MM) sendFile(b *backing, off uint64, r abi.Range) (uint64, error) {
	m.noteWrite(r)
	if _, err := unix.Seek(m.ramfd, int64(r.Start), unix.SEEK_SET); err != nil {
		return 0, err
	}
	done := uint64(0)
	for done < r.Len() {
		in := int64(off + done)
		n, err := unix.Sendfile(m.ramfd, b.fd, &in, int(min(r.Len()-done, 1<<30)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, nil // EOF
		}
		done += uint64(n)
	}
	return done, nil
}

// preadFill reads the file into r through the window.
func (m *MM) preadFill(b *backing, off uint64, r abi.Range) error {
	err := m.window.pieces(r, func(_ abi.Addr, dst []byte) error {
		for len(dst) > 0 {
			n, err := unix.Pread(b.fd, dst, int64(off))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("mm: read %s at %#x: %w", b.path(), off, hostErrno(err))
			}
			if n == 0 {
				return errEOF
			}
			dst, off = dst[n:], off+uint64(n)
		}
		return nil
	})
	if err == errEOF {
		return nil
	}
	return err
}
