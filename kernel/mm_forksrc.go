package kernel

// A fork child copies its parent's private memory from the parent's RAM
// memfd (ChildRAM.CopyFrom). Into a kept RAM, whose window already maps the
// pages, the copy used to be a pread per extent: the kernel's copy to user
// memory runs at a third of memcpy's speed on a PVM host (4 MiB: ~0.5 ms
// against ~0.13 ms). A memcpy needs the parent's RAM mapped in this
// guestproc, and a fresh mapping is dear there: a PVM host builds its
// shadow page table entry at the first touch of each page (~6 ms for 4
// MiB, MADV_POPULATE_READ or not). So the mapping is made only for a parent
// that forks again and again (a fork loop, a shell running a script) and
// kept between its children: this guestproc, recycled as a spare, runs the
// next one.
//
// The mapping holds the parent's RAM file. A guestproc keeps one parent's,
// and only while it holds at most keptRAMMax bytes, as for kept pages.

import (
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

const (
	// forkSrcAfter is how many forks of one parent are copied with pread
	// before its RAM is mapped.
	forkSrcAfter = 2
	// forkSrcAlign rounds each mapping out, so that the next fork's
	// extents, grown a little, still fall inside.
	forkSrcAlign = 2 << 20
	// forkSrcMapsMax bounds the mappings kept for one parent; past it
	// they all go and are made afresh.
	forkSrcMapsMax = 32
)

// forkSource is the RAM of the last fork parent this guestproc copied
// from, and the read-only host mappings of it kept for the next fork.
type forkSource struct {
	mu       sync.Mutex
	dev, ino uint64
	forks    int
	maps     []srcMap
}

type srcMap struct {
	r abi.Range
	b []byte
}

// forkSrc is this guestproc's: it runs one fork child at a time.
var forkSrc forkSource

// begin notes a fork from the parent RAM fd (limit bytes) and reports
// whether its extents should be copied from a mapping (view) rather than
// by pread. Mappings of an earlier parent go. The caller holds s.mu.
func (s *forkSource) begin(fd int, limit abi.Addr) bool {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		s.drop()
		return false
	}
	if st.Dev != s.dev || st.Ino != s.ino {
		s.drop()
		s.dev, s.ino = st.Dev, st.Ino
	}
	s.forks++
	if st.Blocks*512 > keptRAMMax || st.Size < int64(limit) {
		s.drop()
		return false
	}
	return s.forks > forkSrcAfter
}

// view returns the bytes of range r of the source RAM fd (limit bytes
// long), from a kept mapping or a new one. The caller holds s.mu.
func (s *forkSource) view(fd int, r abi.Range, limit abi.Addr) ([]byte, error) {
	for _, m := range s.maps {
		if m.r.Start <= r.Start && r.End <= m.r.End {
			return m.b[r.Start-m.r.Start : r.End-m.r.Start], nil
		}
	}
	if len(s.maps) >= forkSrcMapsMax {
		s.unmapAll()
	}
	whole := abi.Range{Start: r.Start &^ (forkSrcAlign - 1), End: min(limit, (r.End+forkSrcAlign-1)&^(forkSrcAlign-1))}
	b, err := unix.Mmap(fd, int64(whole.Start), int(whole.Len()), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	s.maps = append(s.maps, srcMap{r: whole, b: b})
	return b[r.Start-whole.Start : r.End-whole.Start], nil
}

// drop forgets the parent: its mappings go, and its count.
func (s *forkSource) drop() {
	s.unmapAll()
	s.dev, s.ino, s.forks = 0, 0, 0
}

func (s *forkSource) unmapAll() {
	for _, m := range s.maps {
		unix.Munmap(m.b)
	}
	s.maps = nil
}
