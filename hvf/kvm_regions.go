package hvf

import "sort"

// region is a guest range whose host window is backed by a descriptor
// (Map), with the protection of that host mapping.
type region struct {
	start, end uint64
	hostProt   int
}

// regionSet is a sorted set of disjoint regions.
type regionSet struct {
	rs []region
}

// remove drops [start, end) from the set, splitting regions that straddle
// its edges.
func (s *regionSet) remove(start, end uint64) {
	out := s.rs[:0:0]
	for _, r := range s.rs {
		if r.end <= start || r.start >= end {
			out = append(out, r)
			continue
		}
		if r.start < start {
			out = append(out, region{r.start, start, r.hostProt})
		}
		if r.end > end {
			out = append(out, region{end, r.end, r.hostProt})
		}
	}
	s.rs = out
}

// insert adds [start, end) with hostProt, replacing what was there and
// merging with equal neighbours.
func (s *regionSet) insert(start, end uint64, hostProt int) {
	s.remove(start, end)
	i := sort.Search(len(s.rs), func(i int) bool { return s.rs[i].start >= end })
	s.rs = append(s.rs, region{})
	copy(s.rs[i+1:], s.rs[i:])
	s.rs[i] = region{start, end, hostProt}
	// Merge with the right and left neighbours.
	if i+1 < len(s.rs) && s.rs[i+1].start == end && s.rs[i+1].hostProt == hostProt {
		s.rs[i].end = s.rs[i+1].end
		s.rs = append(s.rs[:i+1], s.rs[i+2:]...)
	}
	if i > 0 && s.rs[i-1].end == start && s.rs[i-1].hostProt == hostProt {
		s.rs[i-1].end = s.rs[i].end
		s.rs = append(s.rs[:i], s.rs[i+1:]...)
	}
}

// overlap returns the parts of regions inside [start, end), clipped.
func (s *regionSet) overlap(start, end uint64) []region {
	var out []region
	i := sort.Search(len(s.rs), func(i int) bool { return s.rs[i].end > start })
	for ; i < len(s.rs) && s.rs[i].start < end; i++ {
		r := s.rs[i]
		out = append(out, region{max(r.start, start), min(r.end, end), r.hostProt})
	}
	return out
}

// covers reports whether [start, end) is entirely inside the set.
func (s *regionSet) covers(start, end uint64) bool {
	at := start
	for _, r := range s.overlap(start, end) {
		if r.start != at {
			return false
		}
		at = r.end
	}
	return at == end
}
