package kernel

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// backing is a host descriptor behind shared mappings (a memfd for shared
// anonymous memory, a dup of the file otherwise) or remembered by private
// file mappings (for /proc/PID/maps and MADV_DONTNEED re-reads). VMA pieces
// share it through a reference count; the last one closes fd.
type backing struct {
	fd       int
	refs     int
	writable bool // opened for writing: shared mappings may be PROT_WRITE
	anon     bool // shared anonymous memfd
	// name is the file's name (path), given or read from fd on first use.
	name     string
	nameOnce sync.Once
	dev, ino uint64
	// ro, when ro > 0, is a read-only descriptor of the same file that
	// the machine maps direct private mappings from (readOnlyFD).
	ro int
}

// path is b's name for /proc/PID/maps and fork images: the one it was made
// with, or else its descriptor's path, read the first time it is asked for
// (as Linux's maps names the file when it is read, not when it was
// mapped). Most mappings are never named: a readlink of /proc/self/fd at
// every file mmap was a tenth of an execve here, and ld.so maps a dozen
// segments per process.
func (b *backing) path() string {
	b.nameOnce.Do(func() {
		if b.name != "" || b.fd < 0 {
			return
		}
		buf := make([]byte, unix.PathMax)
		if n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(b.fd), buf); err == nil {
			b.name = string(buf[:n])
		}
	})
	return b.name
}

// readOnlyFD returns a descriptor of b's file open only for reading, for
// the machine's map of a direct private mapping (never writable there:
// writes materialise a private copy first). For a file opened for
// writing it is a reopen kept with b: the ptrace backend keeps what it
// maps from in its stub beyond the munmap, and a writable descriptor
// there made a later execve of the file fail with ETXTBSY. It is b.fd
// when that is read-only already, or when the reopen fails.
func (b *backing) readOnlyFD() int {
	if !b.writable {
		return b.fd
	}
	if b.ro > 0 {
		return b.ro
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(b.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return b.fd
	}
	b.ro = fd
	return fd
}

func (b *backing) acquire() *backing {
	if b != nil {
		b.refs++
	}
	return b
}

func (b *backing) release() {
	if b == nil {
		return
	}
	b.refs--
	if b.refs == 0 {
		unix.Close(b.fd)
		b.fd = -1
		if b.ro > 0 {
			unix.Close(b.ro)
			b.ro = 0
		}
	}
}

// vma is one mapping. Private memory lives in the RAM memfd at offset ==
// address; shared memory, and direct private file mappings, in back.fd at
// off.
type vma struct {
	start, end abi.Addr
	prot       hvf.Prot
	shared     bool
	// back is nil for private anonymous memory.
	back *backing
	// off is the offset of start in back (file offset for private file
	// mappings, memfd or file offset for shared ones).
	off  uint64
	name string
	// dontFork and wipeOnFork record madvise hints for fork.
	dontFork, wipeOnFork bool
	// direct marks a private file mapping that reads the file itself:
	// the Machine (and the window, see winFile) maps back.fd at off
	// (read-only) instead of the RAM memfd, so nothing is copied and
	// the host page cache is shared with every other mapping of the
	// file. It holds only while prot has no PROT_WRITE; anything that
	// needs private pages first materialises the range (mm_direct.go).
	direct bool
	// winFile: the window shows a direct VMA's file. It is mapped there
	// only when the guestproc first reads the VMA through the window
	// (mm_lazywin.go); until then the window shows the RAM memfd, which
	// holds nothing there.
	winFile bool
}

func (v *vma) rng() abi.Range { return abi.Range{Start: v.start, End: v.end} }

// readable and writable say whether copies may read or write v. On x86 any
// present user page is readable, so PROT_WRITE or PROT_EXEC alone read
// as Linux's copy_from_user does.
func (v *vma) readable() bool { return v.prot&(hvf.ProtRead|hvf.ProtWrite|hvf.ProtExec) != 0 }
func (v *vma) writable() bool { return v.prot&hvf.ProtWrite != 0 }

// mergeable reports whether b can extend a (a directly before b).
func mergeable(a, b *vma) bool {
	if a.end != b.start || a.prot != b.prot || a.shared != b.shared || a.back != b.back ||
		a.name != b.name || a.dontFork != b.dontFork || a.wipeOnFork != b.wipeOnFork || a.direct != b.direct ||
		a.winFile != b.winFile {
		return false
	}
	return a.back == nil || a.off+uint64(a.end-a.start) == b.off
}

// find returns the index of the first VMA that ends after a.
// Preconditions: m.mu held.
func (m *MM) find(a abi.Addr) int {
	return sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].end > a })
}

// splitAt splits the VMA that strictly contains a into [start, a) and
// [a, end). Preconditions: m.mu held for writing.
func (m *MM) splitAt(a abi.Addr) {
	i := m.find(a)
	if i == len(m.vmas) || m.vmas[i].start >= a {
		return
	}
	left := m.vmas[i]
	right := left
	left.end = a
	right.start = a
	if right.back != nil {
		right.off += uint64(a - left.start)
		right.back.acquire()
	}
	m.vmas = append(m.vmas, vma{})
	copy(m.vmas[i+2:], m.vmas[i+1:])
	m.vmas[i], m.vmas[i+1] = left, right
}

// insert puts v into the table (its range must be free) and merges it with
// compatible neighbours. Preconditions: m.mu held for writing.
func (m *MM) insert(v vma) {
	i := m.find(v.start)
	m.vmas = append(m.vmas, vma{})
	copy(m.vmas[i+1:], m.vmas[i:])
	m.vmas[i] = v
	m.mergeRange(v.rng())
}

// mergeRange merges compatible neighbours among the VMAs touching r
// (including the ones just outside it). Preconditions: m.mu held for writing.
func (m *MM) mergeRange(r abi.Range) {
	i := m.find(r.Start)
	if i > 0 {
		i--
	}
	for i+1 < len(m.vmas) && m.vmas[i].start <= r.End {
		a, b := &m.vmas[i], &m.vmas[i+1]
		if mergeable(a, b) {
			a.end = b.end
			b.back.release()
			m.vmas = append(m.vmas[:i+1], m.vmas[i+2:]...)
			continue
		}
		i++
	}
}

// isFree reports whether no VMA overlaps r. Preconditions: m.mu held.
func (m *MM) isFree(r abi.Range) bool {
	i := m.find(r.Start)
	return i == len(m.vmas) || m.vmas[i].start >= r.End
}

// covered reports whether r is mapped without holes. Preconditions: m.mu held.
func (m *MM) covered(r abi.Range) bool { return m.coveredEnd(r) == r.End }

// coveredEnd returns the end of the longest prefix of r mapped without
// holes (r.Start if r starts in a hole). Preconditions: m.mu held.
func (m *MM) coveredEnd(r abi.Range) abi.Addr {
	at := r.Start
	for i := m.find(r.Start); at < r.End; i++ {
		if i == len(m.vmas) || m.vmas[i].start > at {
			return at
		}
		at = m.vmas[i].end
	}
	return r.End
}

// findFree returns the highest address a, aligned to align (a power of two
// multiple of the page size), with [a, a+length) free and inside [lo, hi).
// Preconditions: m.mu held.
func (m *MM) findFree(length, align uint64, lo, hi abi.Addr) (abi.Addr, bool) {
	if align < abi.PageSize {
		align = abi.PageSize
	}
	if hi <= lo || length > uint64(hi-lo) {
		return 0, false
	}
	// Walk the gaps from the top down.
	gapEnd := hi
	i := m.find(hi)
	if i < len(m.vmas) && m.vmas[i].start < gapEnd {
		gapEnd = m.vmas[i].start
	}
	for {
		gapStart := lo
		if i > 0 {
			gapStart = max(lo, m.vmas[i-1].end)
		}
		if gapEnd > gapStart && uint64(gapEnd-gapStart) >= length {
			a := (gapEnd - abi.Addr(length)) &^ abi.Addr(align-1)
			if a >= gapStart {
				return a, true
			}
		}
		if i == 0 {
			return 0, false
		}
		i--
		gapEnd = m.vmas[i].start
		if gapEnd <= lo {
			return 0, false
		}
	}
}

// HoldsFileWriters reports whether a shared mapping holds a file open for
// writing (a writable descriptor keeps it busy for execve, ETXTBSY): the
// process's exit must then release its memory before its parent hears of
// it, as Linux's exit_mm comes before exit_notify.
func (m *MM) HoldsFileWriters() bool {
	if m == nil {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := range m.vmas {
		v := &m.vmas[i]
		// A mapping named in brackets is one of elfuse's own ([vvar]:
		// its memfd is open for writing, but it is no guest file; a
		// fork child has the name on the backing only).
		if b := v.back; v.shared && b != nil && !b.anon && b.writable &&
			v.name == "" && !strings.HasPrefix(b.name, "[") {
			return true
		}
	}
	return false
}
