package kernel

// Populated ranges of RAM remembered from one fork to the next.
//
// ForkLayout lists the populated parts of private memory with SEEK_DATA and
// SEEK_HOLE on the RAM memfd, and the hole search visits every page of a
// populated range: perf of a fork loop with 4 MiB resident put two thirds
// of the parent's fork image in those seeks. Pages only ever join the RAM
// (the guest touches them) until the kernel punches some out (munmap,
// MADV_DONTNEED, mremap, a fork child's emptied RAM has a new MM): so the
// MM remembers the ranges a fork found populated, the next fork scans only
// the rest of each region (where new pages may have come), and any punch
// forgets them all. A stale range could only make a child copy a hole,
// reading zeros, never miss a page.

import (
	"slices"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
)

// populated is the set of RAM ranges known to hold pages.
type populated struct {
	mu sync.Mutex
	rs []abi.Range // sorted, disjoint
}

// forget drops every range: some page of RAM was punched.
func (p *populated) forget() {
	p.mu.Lock()
	p.rs = nil
	p.mu.Unlock()
}

// seed remembers rs (sorted, disjoint) as populated: a fork child's copy
// of its parent's extents, every page of which it wrote.
func (p *populated) seed(rs []abi.Range) {
	p.mu.Lock()
	p.rs = mergeRanges(p.rs, rs)
	p.mu.Unlock()
}

// appendExtents appends the populated parts of RAM range r of file fd to
// list: the known ones as they are, the others found by seeking, and
// remembers them all.
func (p *populated) appendExtents(list []abi.Range, fd int, r abi.Range) []abi.Range {
	p.mu.Lock()
	known, gaps := splitRanges([]abi.Range{r}, p.rs)
	p.mu.Unlock()
	var found []abi.Range
	for _, g := range gaps {
		found = appendFileExtents(found, fd, g)
	}
	exts := mergeRanges(known, found)
	p.mu.Lock()
	_, others := splitRanges(p.rs, []abi.Range{r})
	p.rs = mergeRanges(others, exts)
	p.mu.Unlock()
	return append(list, exts...)
}

// mergeRanges returns the union of the sorted, disjoint lists a and b,
// sorted, with touching ranges joined.
func mergeRanges(a, b []abi.Range) []abi.Range {
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y abi.Range) int {
		switch {
		case x.Start < y.Start:
			return -1
		case x.Start > y.Start:
			return 1
		}
		return 0
	})
	out := all[:0]
	for _, r := range all {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}
