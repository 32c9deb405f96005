package kernel

import (
	"io"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// mapValidateMask is what MAP_SHARED_VALIDATE accepts (Linux's
// LEGACY_MAP_MASK plus MAP_FIXED_NOREPLACE).
const mapValidateMask = abi.MAP_SHARED | abi.MAP_PRIVATE | abi.MAP_FIXED | abi.MAP_ANONYMOUS |
	abi.MAP_DENYWRITE | abi.MAP_EXECUTABLE | abi.MAP_UNINITIALIZED | abi.MAP_GROWSDOWN |
	abi.MAP_LOCKED | abi.MAP_NORESERVE | abi.MAP_POPULATE | abi.MAP_NONBLOCK | abi.MAP_STACK |
	abi.MAP_HUGETLB | abi.MAP_32BIT | abi.MAP_FIXED_NOREPLACE | 0x3f<<26

// map32Lo and map32Hi bound MAP_32BIT allocations as on x86-64 Linux.
const (
	map32Lo abi.Addr = 0x40000000
	map32Hi abi.Addr = 0x80000000
)

// hostProt converts mmap protection bits to hvf permissions.
func hostProt(prot int) hvf.Prot {
	return hvf.Prot(prot & (abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC))
}

// Mmap maps memory as mmap(2) does. hostfd is the host descriptor of the
// guest's fd (ignored with MAP_ANONYMOUS; the caller resolves the guest fd
// and reports EBADF itself). off must be page aligned (the caller checks,
// as Linux does before looking up the fd).
func (m *MM) Mmap(addr abi.Addr, length uint64, prot, flags int, hostfd int, off uint64) (abi.Addr, error) {
	if length == 0 {
		return 0, abi.EINVAL
	}
	shared := false
	switch flags & abi.MAP_TYPE {
	case abi.MAP_PRIVATE:
	case abi.MAP_SHARED:
		shared = true
	case abi.MAP_SHARED_VALIDATE:
		shared = true
		if flags&abi.MAP_ANONYMOUS == 0 && flags&^mapValidateMask != 0 {
			return 0, abi.EOPNOTSUPP
		}
	default:
		return 0, abi.EINVAL
	}
	if off&(abi.PageSize-1) != 0 {
		return 0, abi.EINVAL
	}
	lenUp, ok := abi.Addr(length).RoundUp()
	if !ok || lenUp == 0 || lenUp > m.limit-abi.MMAP_MIN_ADDR {
		return 0, abi.ENOMEM
	}
	if off+uint64(lenUp) < off {
		return 0, abi.EOVERFLOW
	}
	if flags&abi.MAP_HUGETLB != 0 {
		return 0, abi.ENOMEM // no huge pages reserved, as on a stock host
	}
	anon := flags&abi.MAP_ANONYMOUS != 0
	var back *backing
	if !anon {
		b, isZero, err := openBacking(hostfd, shared, prot)
		if err != nil {
			return 0, err
		}
		anon = isZero
		back = b
	}
	if anon && shared {
		b, err := newSharedAnon(uint64(lenUp))
		if err != nil {
			return 0, err
		}
		back, off = b, 0
	}
	if anon && !shared {
		off = 0
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.window == nil { // closed: a failed exec left no address space
		back.release()
		return 0, abi.ENOMEM
	}
	at, err := m.placeLocked(addr, uint64(lenUp), flags)
	if err != nil {
		back.release()
		return 0, err
	}
	r := abi.Range{Start: at, End: at + lenUp}
	// Mapping over existing memory replaces it in the Machine too, in one
	// call (unless the new mapping is PROT_NONE, which the Machine does
	// not map).
	replace := flags&abi.MAP_FIXED != 0 && hostProt(prot) != 0 && !m.isFree(r)
	if flags&abi.MAP_FIXED != 0 {
		mode := unmapAll
		if replace {
			mode = unmapReplace
		}
		if err := m.unmapRangeMode(r, mode); err != nil {
			back.release()
			if replace {
				m.machine.Unmap(uint64(r.Start), r.Len())
			}
			return 0, err
		}
	}
	v := vma{start: r.Start, end: r.End, prot: hostProt(prot), shared: shared, back: back, off: off,
		direct: directFor(shared, back, prot)}
	if err := m.addVMA(v); err != nil {
		if replace {
			// The old mappings left the table: make the Machine forget
			// them too.
			m.machine.Unmap(uint64(r.Start), r.Len())
		}
		return 0, err
	}
	if !shared && back != nil && !v.direct {
		if err := m.fillFromFile(back, off, r); err != nil {
			m.unmapRange(r)
			return 0, err
		}
	}
	return at, nil
}

// placeLocked chooses where a new mapping of length bytes goes: the fixed
// address, the hint when free, else top-down below the mmap base.
// Preconditions: m.mu held.
func (m *MM) placeLocked(addr abi.Addr, length uint64, flags int) (abi.Addr, error) {
	if flags&(abi.MAP_FIXED|abi.MAP_FIXED_NOREPLACE) != 0 {
		if !addr.PageAligned() {
			return 0, abi.EINVAL
		}
		end, ok := addr.AddLength(length)
		if !ok || end > m.limit {
			return 0, abi.ENOMEM
		}
		if addr < abi.MMAP_MIN_ADDR {
			return 0, abi.EPERM
		}
		if flags&abi.MAP_FIXED == 0 && !m.isFree(abi.Range{Start: addr, End: end}) {
			return 0, abi.EEXIST
		}
		return addr, nil
	}
	lo, hi := abi.MMAP_MIN_ADDR, m.mmapBase
	hintHi := m.limit
	if flags&abi.MAP_32BIT != 0 {
		lo, hi, hintHi = map32Lo, map32Hi, map32Hi
	}
	// x86-64 Linux rounds a hint down to its page (arch_get_unmapped_area)
	// and raises one below mmap_min_addr to it (round_hint_to_min).
	hint := addr.RoundDown()
	if hint != 0 && hint < abi.MMAP_MIN_ADDR {
		hint = abi.MMAP_MIN_ADDR
	}
	if hint != 0 {
		if end, ok := hint.AddLength(length); ok && hint >= abi.MMAP_MIN_ADDR && end <= hintHi &&
			m.isFree(abi.Range{Start: hint, End: end}) {
			return hint, nil
		}
	}
	if a, ok := m.findFree(length, abi.PageSize, lo, hi); ok {
		return a, nil
	}
	return 0, abi.ENOMEM
}

// openBacking validates a file descriptor for mmap and takes its own
// reference (a close-on-exec dup). isZero reports /dev/zero, which maps as
// anonymous memory (no backing is returned then).
func openBacking(hostfd int, shared bool, prot int) (b *backing, isZero bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(hostfd, &st); err != nil {
		return nil, false, abi.EBADF
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFCHR:
		if unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 5 {
			return nil, true, nil
		}
		return nil, false, abi.ENODEV
	default:
		return nil, false, abi.ENODEV
	}
	fl, err := unix.FcntlInt(uintptr(hostfd), unix.F_GETFL, 0)
	if err != nil {
		return nil, false, abi.EBADF
	}
	acc := fl & unix.O_ACCMODE
	if acc == unix.O_WRONLY {
		return nil, false, abi.EACCES
	}
	writable := acc == unix.O_RDWR
	if shared && prot&abi.PROT_WRITE != 0 && (!writable || fl&unix.O_APPEND != 0) {
		return nil, false, abi.EACCES
	}
	fd, err := unix.FcntlInt(uintptr(hostfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, false, hostErrno(err)
	}
	return &backing{fd: fd, refs: 1, writable: writable && fl&unix.O_APPEND == 0,
		dev: st.Dev, ino: st.Ino}, false, nil
}

// sharedAnonName is how /proc/PID/maps names shared anonymous memory.
const sharedAnonName = "/dev/zero (deleted)"

// newSharedAnon creates the memfd behind a MAP_SHARED|MAP_ANONYMOUS mapping.
func newSharedAnon(size uint64) (*backing, error) {
	fd, err := unix.MemfdCreate("elfuse-shm", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, hostErrno(err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, hostErrno(err)
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	return &backing{fd: fd, refs: 1, writable: true, anon: true,
		name: sharedAnonName, dev: st.Dev, ino: st.Ino}, nil
}

// growShared makes a shared memfd at least size bytes long (mremap growth).
func growShared(b *backing, size uint64) error {
	if !b.anon {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(b.fd, &st); err != nil {
		return hostErrno(err)
	}
	if uint64(st.Size) >= size {
		return nil
	}
	if err := unix.Ftruncate(b.fd, int64(size)); err != nil {
		return hostErrno(err)
	}
	return nil
}

// moveRAM moves private memory [src, src+n) to [dst, dst+n) inside the RAM
// memfd, copying only populated extents, and punches the source.
// Preconditions: m.mu held for writing; the ranges do not overlap and the
// destination is zero.
func (m *MM) moveRAM(src, dst abi.Addr, n uint64) error {
	end := src + abi.Addr(n)
	at := src
	for at < end {
		d, err := unix.Seek(m.ramfd, int64(at), unix.SEEK_DATA)
		if err == unix.ENXIO || (err == nil && abi.Addr(d) >= end) {
			break
		}
		if err != nil {
			// Without SEEK_DATA, copy everything.
			m.window.move(dst+(at-src), at, uint64(end-at))
			break
		}
		h, err := unix.Seek(m.ramfd, d, unix.SEEK_HOLE)
		if err != nil || abi.Addr(h) > end {
			h = int64(end)
		}
		ds, de := abi.Addr(d), abi.Addr(h)
		m.window.move(dst+(ds-src), ds, uint64(de-ds))
		at = de
	}
	return m.punch(abi.Range{Start: src, End: end})
}

// readAll is io.ReadFull over pread for the loader.
func preadFull(fd int, b []byte, off int64) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Pread(fd, b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.ErrUnexpectedEOF
		}
		done += n
	}
	return done, nil
}
