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
	// kept: not empty but holding the pages of the fork child that ran
	// on it last, which keepRAM left in place, in the ranges held;
	// CopyFrom overwrites the ones the new extents cover and punches the
	// others.
	kept bool
	held []abi.Range
	// track and gen name the fork the kept pages are a copy of (0: not
	// known), changed the ranges its process changed since
	// (mm_track.go).
	track, gen uint64
	changed    []abi.Range
}

// keptRAMMax is the most a RAM may hold and still be kept with its pages
// between two processes: a spare guestproc holds it while idle.
var keptRAMMax int64 = 64 << 20

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
// child's side of fork; ForkLayout gives them, sorted and disjoint).
//
// An empty RAM gets them by copy_file_range, which allocates the pages in
// the kernel. A kept one (a spare that ran a fork child of the same
// parent, say: a shell's subshells, a fork loop) already has most of the
// pages, and its window maps them: a copy into the window (a pread, or a
// memcpy from a kept mapping of the parent's RAM: mm_forksrc.go)
// overwrites them at memory speed (4 MiB in ~0.2 ms here, against ~0.8 ms for
// copy_file_range into fresh pages and ~0.5 ms to punch them at the
// process's end, every page-table change being costly on a PVM host).
// Only the kept pages outside the extents are punched.
//
// When the kept pages are a copy of the same parent's memory as of the fork
// w says its Dirty ranges changed since (mm_track.go), only those and the
// ones the kept RAM's process changed are copied.
func (c *ChildRAM) CopyFrom(src int, extents []abi.Range, w ForkWrites) error {
	for i, r := range extents {
		if r.Start >= r.End || r.End > c.limit || (i > 0 && r.Start < extents[i-1].End) {
			return fmt.Errorf("mm: fork extent [%#x, %#x) out of range or order: %w", uint64(r.Start), uint64(r.End), abi.EINVAL)
		}
	}
	if !c.kept {
		return copyExtents(src, c.fd, extents)
	}
	held := c.held
	dirty, inc := c.incremental(w)
	over, fresh := splitRanges(extents, held)
	_, stale := splitRanges(held, extents)
	var same []abi.Range
	if inc {
		over, same = splitRanges(over, mergeRanges(normalRanges(dirty), c.changed))
	}
	c.kept, c.held, c.track, c.gen, c.changed = false, nil, 0, 0, nil
	for _, r := range stale {
		if err := punchFile(c.fd, r); err != nil {
			return err
		}
	}
	forkSrc.mu.Lock()
	defer forkSrc.mu.Unlock()
	mapped := forkSrc.begin(src, c.limit) // mm_forksrc.go
	if w.Track != 0 {
		// The child's writes are tracked (mm_track.go): the copy goes
		// through the descriptor, which the trackers do not see, so
		// nothing needs protecting again after it (protecting 4 MiB
		// of pages the window wrote took ~0.9 ms here, against ~0.15
		// ms more for the copy).
		if err := c.copyThroughFD(src, over, mapped); err != nil {
			return err
		}
		over = nil
	}
	for _, r := range over {
		err := c.w.pieces(r, func(at abi.Addr, b []byte) error {
			if mapped {
				v, err := forkSrc.view(src, abi.Range{Start: at, End: at + abi.Addr(len(b))}, c.limit)
				if err == nil {
					copy(b, v)
					return nil
				}
				mapped = false
			}
			_, err := preadFull(src, b, int64(at))
			return err
		})
		if err != nil {
			return fmt.Errorf("mm: fork copy at %#x: %w", uint64(r.Start), err)
		}
	}
	if err := copyExtents(src, c.fd, fresh); err != nil {
		return err
	}
	if forkCheck && len(same) > 0 {
		return c.checkCopy(src, same)
	}
	return nil
}

// copyThroughFD copies ranges of the parent's RAM src into c's memfd: by
// pwrite from a kept mapping of src when there is one (mapped), else in
// the kernel.
func (c *ChildRAM) copyThroughFD(src int, ranges []abi.Range, mapped bool) error {
	for _, r := range ranges {
		if mapped {
			if v, err := forkSrc.view(src, r, c.limit); err == nil {
				if err := pwriteFull(c.fd, v, int64(r.Start)); err != nil {
					return fmt.Errorf("mm: fork copy at %#x: %w", uint64(r.Start), err)
				}
				continue
			}
			mapped = false
		}
		if err := copyExtents(src, c.fd, []abi.Range{r}); err != nil {
			return err
		}
	}
	return nil
}

// pwriteFull writes all of b at off.
func pwriteFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return unix.EIO
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// splitRanges splits the ranges a into the parts inside b and those
// outside. Both lists are sorted and disjoint; so are the results.
func splitRanges(a, b []abi.Range) (in, out []abi.Range) {
	j := 0
	for _, r := range a {
		for at := r.Start; at < r.End; {
			for j < len(b) && b[j].End <= at {
				j++
			}
			if j == len(b) || b[j].Start >= r.End {
				out = append(out, abi.Range{Start: at, End: r.End})
				break
			}
			if b[j].Start > at {
				out = append(out, abi.Range{Start: at, End: b[j].Start})
				at = b[j].Start
			}
			end := min(b[j].End, r.End)
			in = append(in, abi.Range{Start: at, End: end})
			at = end
		}
	}
	return in, out
}

// keepRAM is Close for an MM whose RAM and window a later fork child of
// this guestproc takes over: emptied, with the RAM back in the window
// where files were, and nothing said to the Machine (which the caller
// recycles whole). Nil when they cannot be kept (borrowed RAM, a window
// with host mlocks, a failure); the MM is closed either way.
//
// A fork child's RAM that no exec emptied keeps its pages when it holds
// at most keptRAMMax bytes: the next fork child likely copies much the
// same memory (ChildRAM.CopyFrom).
func (m *MM) keepRAM() *ChildRAM {
	q := newMachineQueue(m.machine)
	m.setMachine(q)
	mode := unmapKeepWindow
	var track, gen uint64
	var changed []abi.Range
	if m.forkCopied && fileHeld(m.ramfd) <= keptRAMMax {
		mode = unmapKeepPages
		track, gen, changed = m.keptWrites() // mm_track.go
	}
	fd, w, err := m.releaseKeeping(mode)
	q.discard()
	if err != nil || fd < 0 {
		return nil
	}
	c := &ChildRAM{fd: fd, w: w, limit: m.limit, kept: mode == unmapKeepPages, track: track, gen: gen, changed: changed}
	if c.kept {
		// Found now, at the process's end, rather than on the next
		// fork's way. The ranges the MM knows populated (a fork
		// child's copy of its parent) are taken as they are, so the
		// seeks visit only the rest: SEEK_HOLE walks every page of a
		// populated range (~50 us for the 4 MiB of a fork loop here).
		// A known range that is a hole after all is only punched
		// again; a page never escapes: every punch forgets them all.
		c.held = m.pop.appendExtents(nil, fd, abi.Range{Start: 0, End: m.limit})
	}
	return c
}

// fileHeld is the memory file fd holds, or the most an int64 holds when
// it cannot be told.
func fileHeld(fd int) int64 {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 1<<63 - 1
	}
	return st.Blocks * 512
}
