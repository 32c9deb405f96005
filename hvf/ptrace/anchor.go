package ptrace

import (
	"slices"

	"golang.org/x/sys/unix"
)

// Page-table anchors. Unmapping a process's memory in the stub (an exec's
// old image, a recycled stub's whole guest range) frees the page-table
// pages that held it, and the next process's first touches allocate them
// again. Linux frees a page-table page only when no mapping is left in its
// span, and on a PVM host every entry written or cleared there is a trap
// (twice at the top level with page-table isolation): perf record of 300
// busybox fork+exec+exit iterations found free_pgd_range in 821 samples
// and page-table allocation in 489. So the stub keeps a PROT_NONE page at
// each end of the guest range, below anything the guest maps and at its
// top next to the stack, and the upper levels over the program and over
// the stack survive (430 and 184 samples with them).
//
// A guest may map over the top anchor (the bottom one lies below the
// kernel's MMAP_MIN_ADDR): an operation touching an anchor marks them
// lost, and the next Recycle unmaps the whole range and places them again.

// anchorCandidates are the anchor pages of a machine whose guest range
// ends at limit: the bottom one below every guest mapping (the kernel's
// MMAP_MIN_ADDR is 64 KiB; a host whose mmap_min_addr is higher does
// without it), the top one just below limit.
func anchorCandidates(limit uint64) []uint64 { return []uint64{0x1000, limit - pageSize} }

// anchorEntries are the batch entries that place anchors at addrs, in a
// guest range emptied first (MAP_FIXED then replaces nothing).
func anchorEntries(addrs []uint64) []batchEntry {
	var ents []batchEntry
	for _, a := range addrs {
		ents = append(ents, batchEntry{nr: unix.SYS_MMAP, args: [6]uint64{a, pageSize, unix.PROT_NONE,
			unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED | unix.MAP_NORESERVE, ^uint64(0), 0}})
	}
	return ents
}

// placeAnchors places the anchors at setup, keeping those the host allows.
func (m *machine) placeAnchors() {
	cands := anchorCandidates(m.limit)
	ents := anchorEntries(cands)
	if _, err := m.runBatch(ents, nil, false); err != nil {
		return
	}
	for i, e := range ents {
		if !failed(e.ret) {
			m.anchors = append(m.anchors, cands[i])
		}
	}
	m.anchorsUp = len(m.anchors) > 0
}

// touchAnchors marks the anchors lost when a guest operation covers one.
func (m *machine) touchAnchors(addr, length uint64) {
	r := m.root()
	if !r.anchorsUp {
		return
	}
	for _, a := range r.anchors {
		if addr < a+pageSize && a < addr+length {
			r.anchorsLost = true
		}
	}
}

// recycleEntries are the batch entries that empty the guest range: the
// munmaps around the anchors when they stand, else one munmap of it all
// and the anchors placed again (placed: the batch re-places them, which
// it records when it completes).
func (m *machine) recycleEntries() (ents []batchEntry, placed bool) {
	if !m.anchorsUp || m.anchorsLost {
		ents = []batchEntry{{nr: unix.SYS_MUNMAP, args: [6]uint64{0, m.limit}}}
		return append(ents, anchorEntries(m.anchors)...), len(m.anchors) > 0
	}
	at := uint64(0)
	for _, a := range slices.Sorted(slices.Values(m.anchors)) {
		if a > at {
			ents = append(ents, batchEntry{nr: unix.SYS_MUNMAP, args: [6]uint64{at, a - at}})
		}
		at = a + pageSize
	}
	if at < m.limit {
		ents = append(ents, batchEntry{nr: unix.SYS_MUNMAP, args: [6]uint64{at, m.limit - at}})
	}
	return ents, false
}
