package kernel

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// MM is a guest address space: a sorted table of mappings (VMAs) plus the
// memory behind them.
//
// Memory model. Private memory (anonymous or a private copy of a file) lives
// in one sparse RAM memfd whose offset equals the guest address. The whole
// memfd is mapped MAP_SHARED over a host window of limit bytes, so guest
// address A is byte A of the window (hostWindow; rarely the window is split
// into separately placed chunks, see mapWindow): once A is checked against
// the VMA table, a copy is a plain memory access. MAP_SHARED memory has its
// own descriptor (a memfd for anonymous memory, the file itself otherwise)
// mapped over its window range instead of the RAM memfd, and given to the
// Machine the same way. A private file mapping without PROT_WRITE is
// "direct": backed by its file exactly like a shared one, but read-only, so
// an exec or ld.so maps program text without copying it; it is materialised
// (copied into RAM, window and Machine switched to the RAM memfd) before
// anything could write it (mm_direct.go).
//
// Invariants (held under mu):
//   - vmas is sorted by address, non-overlapping, page aligned, inside
//     [abi.MMAP_MIN_ADDR, limit);
//   - RAM memfd pages exist only under private non-direct VMAs: every
//     range leaving a private VMA is hole-punched, so a new mapping always
//     reads zeros (except in a vfork child's borrowed RAM, which is never
//     punched);
//   - the window maps the RAM memfd except under shared and direct VMAs,
//     where it maps their file (direct ones read-only);
//   - a direct VMA never has PROT_WRITE;
//   - the Machine maps exactly the VMAs whose prot is not PROT_NONE, each
//     with its prot (PROT_NONE costs the machine nothing).
//
// Lock order: Process.mu before MM.mu. Machine calls happen under mu, on the
// vCPU thread that owns the Machine (hvf contract).
type MM struct {
	machine hvf.Machine
	limit   abi.Addr
	ramfd   int
	window  *hostWindow

	// lockFuture and lockOnFault are mlockall's MCL_FUTURE and
	// MCL_ONFAULT (mm_lock.go); a new MM (fork, exec) starts without.
	lockFuture, lockOnFault atomic.Bool
	// everLocked: some window range was mlocked; such a window is not
	// handed to the next image (its host locks would stay).
	everLocked atomic.Bool

	// borrowed marks the RAM as another process's (a vfork child runs on
	// its parent's memory): nothing is ever punched out of it.
	borrowed bool
	// forkCopied: the RAM was filled by a fork child's copy through the
	// window (NewMMInto) and no exec has emptied it since (keepRAM).
	forkCopied bool

	// stackTop and mmapBase are derived from limit (see layout.go).
	stackTop abi.Addr
	mmapBase abi.Addr

	mu sync.RWMutex
	// vmas is the sorted mapping table.
	vmas []vma
	// heat counts the copies that bypassed the window (mm_cold.go).
	heat windowHeat

	// brkStart and brk are the program break's start and current value;
	// the heap mapping covers [brkStart, roundup(brk)).
	brkStart abi.Addr
	brk      abi.Addr

	// pop remembers the RAM ranges a fork found populated (mm_dense.go).
	pop populated

	// track records which RAM pages changed, once a fork asked
	// (mm_track.go); trackOff says it cannot be had here.
	track    *ramTrack
	trackOff atomic.Bool
}

// MapInfo describes one mapping, for /proc/PID/maps and fork.
type MapInfo struct {
	Start, End abi.Addr
	Prot       hvf.Prot
	Shared     bool
	// Offset is the file offset of Start (0 for anonymous memory).
	Offset uint64
	// Name is the path of a file mapping, "[heap]", "[stack]", or
	// "/dev/zero (deleted)" for shared anonymous memory; "" otherwise.
	Name string
	// Dev and Inode identify a file mapping's file.
	Dev, Inode uint64
	// DontFork and WipeOnFork carry madvise(MADV_DONTFORK/WIPEONFORK).
	DontFork, WipeOnFork bool
	// Fd is the descriptor behind the mapping: the memory itself for a
	// shared mapping (memfd or file, at Offset); the mapped file for a
	// private file mapping, whose data lives in RAMFd() at offset ==
	// address like all private memory unless Direct; -1 for private
	// anonymous memory. The MM owns it: dup it to keep it.
	Fd int
	// Direct marks a private file mapping not yet written (no
	// PROT_WRITE since it was mapped): its memory is the file Fd at
	// Offset, mapped read-only, and RAMFd() holds nothing there. It is
	// still private (Shared is false, /proc/PID/maps says 'p').
	Direct bool
}

// NewMM creates an empty address space of [0, limit) on machine. limit must
// be page aligned and at least 1 GiB.
func NewMM(machine hvf.Machine, limit abi.Addr) (*MM, error) {
	if !limit.PageAligned() || limit < 1<<30 || limit < 2*(StackGuardGap+MmapGap) {
		return nil, fmt.Errorf("mm: bad address-space limit %#x: %w", uint64(limit), abi.EINVAL)
	}
	fd, err := newRAM(limit)
	if err != nil {
		return nil, err
	}
	m, err := newMMOver(machine, limit, fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return m, nil
}

// newRAM creates an empty RAM memfd of limit bytes.
func newRAM(limit abi.Addr) (int, error) {
	fd, err := unix.MemfdCreate("elfuse-ram", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("mm: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(limit)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("mm: size RAM memfd to %#x: %w", uint64(limit), err)
	}
	return fd, nil
}

// newMMOver makes an MM without mappings whose RAM is the memfd fd (which
// it takes over).
func newMMOver(m hvf.Machine, limit abi.Addr, fd int) (*MM, error) {
	if !limit.PageAligned() || limit < 1<<30 || limit < 2*(StackGuardGap+MmapGap) {
		return nil, fmt.Errorf("mm: bad address-space limit %#x: %w", uint64(limit), abi.EINVAL)
	}
	w, err := mapWindow(fd, uint64(limit))
	if err != nil {
		return nil, fmt.Errorf("mm: map %#x-byte host window: %w", uint64(limit), err)
	}
	return newMMWith(m, limit, fd, w), nil
}

// newMMWith makes an MM without mappings on RAM memfd fd shown by window w
// (both taken over). Preconditions: limit checked as newMMOver does.
func newMMWith(m hvf.Machine, limit abi.Addr, fd int, w *hostWindow) *MM {
	stackTop := limit - StackGuardGap
	return &MM{
		machine:  m,
		limit:    limit,
		ramfd:    fd,
		window:   w,
		stackTop: stackTop,
		mmapBase: stackTop - MmapGap,
	}
}

// Close releases the address space: the window, the RAM memfd and every
// shared backing. It does not close the Machine.
func (m *MM) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.window == nil {
		return nil
	}
	for i := range m.vmas {
		m.vmas[i].back.release()
	}
	m.vmas = nil
	err := unmapWindow(m.window)
	m.window = nil
	if cerr := unix.Close(m.ramfd); err == nil {
		err = cerr
	}
	return err
}

// Release removes every mapping from the Machine and closes the MM (the
// Machine stays open for a new MM: execve).
func (m *MM) Release() error {
	m.mu.Lock()
	var err error
	if m.window != nil {
		err = m.unmapRangeMode(abi.Range{Start: 0, End: m.limit}, unmapRelease)
	}
	m.mu.Unlock()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// releaseForExec is Release for execve, which keeps what the next image
// can reuse: the RAM memfd, emptied, and the window onto it, with the RAM
// back where files were shown. It saves the window's unmapping (its page
// tables freed, then built again by the next image's first touches: ~0.2
// ms an exec on a PVM host) and passing a new RAM memfd to the Machine (the
// ptrace stub keeps the old one). It returns them (the caller owns both)
// when it can (not borrowed RAM, a whole window), else fd -1 after a
// plain Release.
func (m *MM) releaseForExec() (fd int, w *hostWindow, err error) {
	return m.releaseKeeping(unmapKeepWindow)
}

// releaseKeeping is releaseForExec with the unmap mode: unmapKeepWindow,
// or unmapKeepPages to leave the private pages in the RAM.
func (m *MM) releaseKeeping(mode unmapMode) (fd int, w *hostWindow, err error) {
	m.mu.Lock()
	if m.window == nil || m.borrowed || m.everLocked.Load() {
		m.mu.Unlock()
		return -1, nil, m.Release()
	}
	err = m.unmapRangeMode(abi.Range{Start: 0, End: m.limit}, mode)
	if err != nil {
		m.mu.Unlock()
		if cerr := m.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return -1, nil, err
	}
	fd, w = m.ramfd, m.window
	m.window, m.ramfd = nil, -1
	m.mu.Unlock()
	return fd, w, nil
}

// Limit returns the end of the address space.
func (m *MM) Limit() abi.Addr { return m.limit }

// StackTop returns the top of the initial stack mapping.
func (m *MM) StackTop() abi.Addr { return m.stackTop }

// RAMFd returns the RAM memfd (offset == guest address) for fork snapshots.
// The MM keeps ownership.
func (m *MM) RAMFd() int { return m.ramfd }

// Lookup reports whether addr lies inside a mapping and with which
// permissions (tells SEGV_MAPERR from SEGV_ACCERR).
func (m *MM) Lookup(addr abi.Addr) (prot hvf.Prot, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i := m.find(addr)
	if i < len(m.vmas) && m.vmas[i].start <= addr {
		return m.vmas[i].prot, true
	}
	return 0, false
}

// Maps returns the mapping table in address order.
func (m *MM) Maps() []MapInfo {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]MapInfo, 0, len(m.vmas))
	for i := range m.vmas {
		out = append(out, m.vmas[i].info())
	}
	return out
}

// info describes v for Maps.
func (v *vma) info() MapInfo {
	mi := MapInfo{
		Start: v.start, End: v.end, Prot: v.prot, Shared: v.shared,
		Name: v.name, DontFork: v.dontFork, WipeOnFork: v.wipeOnFork, Fd: -1, Direct: v.direct,
	}
	if v.back != nil {
		mi.Offset = v.off
		mi.Dev, mi.Inode = v.back.dev, v.back.ino
		if mi.Name == "" {
			mi.Name = v.back.path()
		}
		mi.Fd = v.back.fd
	}
	return mi
}

// Brk returns the current program break.
func (m *MM) Brk() abi.Addr {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.brk
}

// SetBrkStart sets the start of the heap (the loader calls it once, with
// the page-aligned end of the highest PT_LOAD segment).
func (m *MM) SetBrkStart(a abi.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.brkStart, m.brk = a, a
}

// errMachine turns a backend failure into the errno a guest sees.
func errMachine(op string, r abi.Range, err error) error {
	return fmt.Errorf("mm: machine %s [%#x, %#x): %v: %w", op, uint64(r.Start), uint64(r.End), err, abi.ENOMEM)
}

// hostErrno converts a host error to an abi.Errno (EIO when unknown).
func hostErrno(err error) abi.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return abi.Errno(e)
	}
	return abi.EIO
}

// punch returns the RAM pages of r to the host; later reads see zeros.
func (m *MM) punch(r abi.Range) error {
	if r.Len() == 0 || m.borrowed {
		return nil
	}
	m.pop.forget()
	m.noteWrite(r)
	return punchFile(m.ramfd, r)
}

// punchFile frees range r of memory file fd (it reads zero after).
func punchFile(fd int, r abi.Range) error {
	err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(r.Start), int64(r.Len()))
	if err != nil {
		return fmt.Errorf("mm: punch [%#x, %#x): %w", uint64(r.Start), uint64(r.End), err)
	}
	return nil
}

// machineMap gives the part r of VMA v to the machine.
// Preconditions: m.mu held for writing; r inside v.
func (m *MM) machineMap(v *vma, r abi.Range) error {
	if v.prot == 0 || r.Len() == 0 {
		return nil
	}
	fd, off := m.ramfd, int64(r.Start)
	if v.shared || v.direct {
		fd, off = v.back.fd, int64(v.off+uint64(r.Start-v.start))
		if !v.shared {
			fd = v.back.readOnlyFD() // mm_vma.go
		}
		if q, ok := m.machine.(*machineQueue); ok {
			q.hold(v.back)
		}
	}
	if err := m.machine.Map(uint64(r.Start), r.Len(), v.prot, fd, off); err != nil {
		return errMachine("map", r, err)
	}
	return nil
}

// windowMap points the host window at v's memory for the part r.
// Preconditions: m.mu held for writing; r inside v.
func (m *MM) windowMap(v *vma, r abi.Range) error {
	if !v.shared && !v.winFile {
		return nil // private RAM, or a direct VMA not shown yet
	}
	prot := unix.PROT_READ
	if v.shared && v.back.writable {
		prot |= unix.PROT_WRITE
	}
	off := int64(v.off + uint64(r.Start-v.start))
	if err := mapOver(m.window, r.Start, r.Len(), prot, v.back.fd, off); err != nil {
		return fmt.Errorf("mm: map shared memory into window: %w", err)
	}
	return nil
}

// windowRestore points the window range r back at the RAM memfd.
func (m *MM) windowRestore(r abi.Range) error {
	return mapOver(m.window, r.Start, r.Len(), unix.PROT_READ|unix.PROT_WRITE, m.ramfd, int64(r.Start))
}

// addVMA inserts v over a free range and makes it visible to the machine.
// On failure nothing is left mapped and v's backing reference is dropped.
// Preconditions: m.mu held for writing; [v.start, v.end) is free.
func (m *MM) addVMA(v vma) error {
	r := v.rng()
	if err := m.windowMap(&v, r); err != nil {
		v.back.release()
		return err
	}
	if err := m.machineMap(&v, r); err != nil {
		if v.shared || v.winFile {
			m.windowRestore(r)
		}
		v.back.release()
		return err
	}
	m.insert(v)
	return nil
}

// protectRange sets prot on every mapping inside r, which must be fully
// mapped. Preconditions: m.mu held for writing; r page aligned.
func (m *MM) protectRange(r abi.Range, prot hvf.Prot) error {
	m.splitAt(r.Start)
	m.splitAt(r.End)
	var firstErr error
	i := m.find(r.Start)
	for j := i; j < len(m.vmas) && m.vmas[j].start < r.End; j++ {
		v := &m.vmas[j]
		old := v.prot
		if old == prot {
			continue
		}
		v.prot = prot
		vr := v.rng()
		var err error
		switch {
		case v.direct && prot&hvf.ProtWrite != 0:
			// Private pages from now on: copy the file into RAM and map
			// that with the new permissions.
			err = m.materialise(v)
		case prot == 0:
			if err = m.machine.Unmap(uint64(vr.Start), vr.Len()); err != nil {
				err = errMachine("unmap", vr, err)
			}
		case old == 0:
			err = m.machineMap(v, vr)
		default:
			if err = m.machine.Protect(uint64(vr.Start), vr.Len(), prot); err != nil {
				err = errMachine("protect", vr, err)
			}
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	m.mergeRange(r)
	return firstErr
}
