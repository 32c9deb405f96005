package kernel

import (
	"errors"
	"fmt"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Snapshot is a copy of an address space for fork: what the child needs to
// rebuild it with NewMMFromSnapshot.
type Snapshot struct {
	// RAM is, from Snapshot, a fresh memfd (close-on-exec, owned by the
	// caller) with a copy of every populated page of private memory, at
	// offset == address: holes stay holes, the copy costs what is
	// resident, never what is reserved. From ForkLayout and Share it is
	// the MM's own RAM memfd (the MM keeps it).
	RAM int
	// Regions is the mapping table, MADV_DONTFORK regions left out. Each
	// Fd is the parent MM's own descriptor (send it, or dup it to keep it).
	Regions []MapInfo
	// BrkStart and Brk are the heap's start and the program break.
	BrkStart, Brk abi.Addr
	// Copied is the number of bytes of private memory the copy into RAM
	// takes.
	Copied uint64
	// Extents are the populated ranges of private memory, the parts of
	// RAM a child copies (ForkLayout).
	Extents []abi.Range
}

// Snapshot copies the address space for fork: private memory into a new
// memfd (MADV_WIPEONFORK regions stay zero), the region table as is.
// Shared regions are not copied: the child maps the same descriptors, so
// they stay shared across fork. Nor are direct private file regions: the
// child maps the same file read-only, and either side materialises its own
// copy before writing. (A fork child copies for itself: ForkLayout and
// ChildRAM; this is the same in one step.)
//
// Preconditions: no vCPU of the process runs (the caller stopped them);
// guest writes during the copy would tear it.
func (m *MM) Snapshot() (*Snapshot, error) {
	s := m.ForkLayout()
	fd, err := newRAM(m.limit)
	if err != nil {
		return nil, err
	}
	if err := copyExtents(s.RAM, fd, s.Extents); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.RAM = fd
	return s, nil
}

// ForkLayout describes the address space for a fork child that copies the
// private memory itself (ChildRAM.CopyFrom): RAM is the MM's own RAM
// memfd (the MM keeps owning it), Extents its populated private ranges
// (not MADV_WIPEONFORK, shared or direct ones), Regions the table without
// MADV_DONTFORK regions.
//
// Preconditions: the snapshot's: until the child has copied, no vCPU of
// the process runs.
func (m *MM) ForkLayout() *Snapshot {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := &Snapshot{RAM: m.ramfd, BrkStart: m.brkStart, Brk: m.brk}
	for i := range m.vmas {
		v := &m.vmas[i]
		if v.dontFork {
			continue
		}
		s.Regions = append(s.Regions, v.info())
		if !v.shared && !v.direct && !v.wipeOnFork {
			s.Extents = m.pop.appendExtents(s.Extents, m.ramfd, v.rng())
		}
	}
	for _, r := range s.Extents {
		s.Copied += uint64(r.Len())
	}
	return s
}

// appendFileExtents appends the populated parts of range r of file fd to
// list (all of r when the file system cannot tell).
func appendFileExtents(list []abi.Range, fd int, r abi.Range) []abi.Range {
	for at := r.Start; at < r.End; {
		d, err := unix.Seek(fd, int64(at), unix.SEEK_DATA)
		if err == unix.ENXIO || (err == nil && abi.Addr(d) >= r.End) {
			return list
		}
		ext := abi.Range{Start: at, End: r.End}
		if err == nil {
			h, herr := unix.Seek(fd, d, unix.SEEK_HOLE)
			if herr != nil {
				h = int64(r.End)
			}
			ext = abi.Range{Start: abi.Addr(d), End: min(abi.Addr(h), r.End)}
		}
		list = append(list, ext)
		at = ext.End
	}
	return list
}

// copyExtents copies the ranges list of memfd src into dst at the same
// offsets, in the kernel (copy_file_range), else through a buffer.
func copyExtents(src, dst int, list []abi.Range) error {
	var buf []byte
	for _, r := range list {
		off := int64(r.Start)
		for off < int64(r.End) {
			from, to := off, off
			n, err := unix.CopyFileRange(src, &from, dst, &to, int(int64(r.End)-off), 0)
			if err == unix.EINTR {
				continue
			}
			if err == nil && n > 0 {
				off += int64(n)
				continue
			}
			// A kernel without copy_file_range between these files.
			if buf == nil {
				buf = make([]byte, 1<<20)
			}
			k, rerr := unix.Pread(src, buf[:min(int64(len(buf)), int64(r.End)-off)], off)
			if rerr == unix.EINTR {
				continue
			}
			if rerr != nil || k <= 0 {
				return fmt.Errorf("mm: fork copy at %#x: %w", off, errors.Join(rerr, err))
			}
			if _, werr := unix.Pwrite(dst, buf[:k], off); werr != nil {
				return fmt.Errorf("mm: fork copy at %#x: %w", off, werr)
			}
			off += int64(k)
		}
	}
	return nil
}

// Share describes the address space for a vfork child, which runs on this
// very memory while the parent waits: RAM is the MM's own RAM memfd (not a
// copy; the MM keeps owning it) and Regions the whole table (MADV_DONTFORK
// does not apply to CLONE_VM). The child rebuilds it with NewMMBorrowed.
func (m *MM) Share() *Snapshot {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := &Snapshot{RAM: m.ramfd, BrkStart: m.brkStart, Brk: m.brk}
	for i := range m.vmas {
		s.Regions = append(s.Regions, m.vmas[i].info())
	}
	return s
}

// NewMMBorrowed is NewMMFromSnapshot for a vfork child: s.RAM is (a
// descriptor of) the parent's RAM memfd, so the child's writes are the
// parent's, as under CLONE_VM. Nothing is ever punched out of that RAM:
// the child's munmap, MADV_DONTNEED or exec (which tears its MM down) leave
// the parent's memory intact; a later mapping of a range the child
// unmapped may show the parent's old bytes instead of zeros.
func NewMMBorrowed(machine hvf.Machine, limit abi.Addr, s *Snapshot) (*MM, error) {
	return newMMFromSnapshot(machine, limit, s, true, nil)
}

// NewMMFromSnapshot rebuilds an address space on machine from a snapshot
// (in a fork child): s.RAM becomes its RAM (the MM owns it on success; on
// failure the caller still does), and each region's Fd, a descriptor of
// this process (received with SCM_RIGHTS), is dup'ed: the caller keeps its
// own copies. Regions sharing an Fd share one backing.
func NewMMFromSnapshot(machine hvf.Machine, limit abi.Addr, s *Snapshot) (*MM, error) {
	return newMMFromSnapshot(machine, limit, s, false, nil)
}

// NewMMInto is NewMMFromSnapshot for a fork child that copied the parent's
// memory into ram (ChildRAM.CopyFrom) rather than receiving a copy: the MM
// is built on ram's memfd and window (s.RAM is not used). s.Extents are
// the ranges copied: the MM knows them populated, so that its own fork
// and the end that keeps its RAM (keepRAM) seek only past them. It takes
// ram, also on failure.
func NewMMInto(machine hvf.Machine, limit abi.Addr, s *Snapshot, ram *ChildRAM) (*MM, error) {
	if ram == nil || ram.fd < 0 || ram.limit != limit {
		ram.Close()
		return nil, fmt.Errorf("mm: child RAM missing or of another size: %w", abi.EINVAL)
	}
	m, err := newMMFromSnapshot(machine, limit, s, false, ram)
	if err == nil {
		m.pop.seed(s.Extents)
	}
	return m, err
}

func newMMFromSnapshot(machine hvf.Machine, limit abi.Addr, s *Snapshot, borrowed bool, ram *ChildRAM) (*MM, error) {
	var m *MM
	built := false
	if ram != nil {
		// ram is taken either way: on failure its window goes (fail
		// below unmaps it once it is the MM's) and its memfd is closed.
		defer func() {
			if !built {
				if m == nil {
					unmapWindow(ram.w)
				}
				unix.Close(ram.fd)
			}
			ram.fd, ram.w = -1, nil
		}()
	}
	for i, r := range s.Regions {
		if !r.Start.PageAligned() || !r.End.PageAligned() || r.Start >= r.End || r.Start < abi.MMAP_MIN_ADDR ||
			r.End > limit || (i > 0 && r.Start < s.Regions[i-1].End) {
			return nil, fmt.Errorf("mm: snapshot region %d [%#x, %#x) out of order or range: %w",
				i, uint64(r.Start), uint64(r.End), abi.EINVAL)
		}
		if (r.Shared || r.Direct) && r.Fd < 0 {
			return nil, fmt.Errorf("mm: shared snapshot region %d has no descriptor: %w", i, abi.EINVAL)
		}
		if r.Direct && (r.Shared || r.Prot&hvf.ProtWrite != 0) {
			return nil, fmt.Errorf("mm: snapshot region %d is direct but shared or writable: %w", i, abi.EINVAL)
		}
	}
	// The regions reach the Machine in one batch (see machineQueue).
	q := newMachineQueue(machine)
	var err error
	if ram != nil {
		m = newMMWith(q, limit, ram.fd, ram.w)
		m.forkCopied = true
	} else if m, err = newMMOver(q, limit, s.RAM); err != nil {
		return nil, err
	}
	m.borrowed = borrowed
	backs := map[int]*backing{}
	// fail undoes what was built, leaving s.RAM (the caller's) untouched.
	// Preconditions: m.mu held.
	fail := func(err error, flushed bool) (*MM, error) {
		q.discard()
		for _, b := range backs {
			b.release()
		}
		m.machine = machine
		var undo []hvf.MapOp
		for i := range m.vmas {
			v := &m.vmas[i]
			if v.prot != 0 && flushed {
				undo = append(undo, hvf.MapOp{Kind: hvf.OpUnmap, Addr: uint64(v.start), Len: uint64(v.end - v.start)})
			}
			v.back.release()
		}
		// Best effort: unmapping a range the failed batch never mapped
		// is harmless.
		hvf.Apply(machine, undo)
		m.vmas = nil
		unmapWindow(m.window)
		m.window = nil
		m.mu.Unlock()
		return nil, err
	}
	m.mu.Lock()
	for _, r := range s.Regions {
		v := vma{start: r.Start, end: r.End, prot: r.Prot, shared: r.Shared, name: r.Name,
			dontFork: r.DontFork, wipeOnFork: r.WipeOnFork, direct: r.Direct}
		if r.Fd >= 0 {
			b, ok := backs[r.Fd]
			if !ok {
				if b, err = adoptBacking(r); err != nil {
					return fail(err, false)
				}
				backs[r.Fd] = b
			}
			v.back, v.off, v.name = b.acquire(), r.Offset, ""
		}
		if err := m.addVMA(v); err != nil {
			return fail(err, false)
		}
	}
	m.machine = machine
	if err := q.flush(); err != nil {
		return fail(err, true)
	}
	m.brkStart, m.brk = s.BrkStart, s.Brk
	m.mu.Unlock()
	for _, b := range backs {
		b.release() // drop adoptBacking's reference; the VMAs hold theirs
	}
	built = true
	return m, nil
}

// adoptBacking makes a backing of a dup of region r's descriptor.
func adoptBacking(r MapInfo) (*backing, error) {
	fd, err := unix.FcntlInt(uintptr(r.Fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mm: dup snapshot descriptor %d: %w", r.Fd, hostErrno(err))
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return &backing{
		fd: fd, refs: 1, writable: fl&unix.O_ACCMODE == unix.O_RDWR && fl&unix.O_APPEND == 0,
		anon: r.Shared && r.Name == sharedAnonName, name: r.Name, dev: st.Dev, ino: st.Ino,
	}, nil
}
