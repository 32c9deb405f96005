// Package maplayout records what a backend has mapped in a guest range, so
// that a recycled machine can keep mappings for its next process (the
// ptrace backend's stub, a KVM machine's host windows and page tables) and
// let that process claim those it maps again the same way.
package maplayout

import (
	"slices"
	"sort"

	"golang.org/x/sys/unix"
)

// Key identifies the open file behind a mapping: its device and inode, and
// the access mode it was opened with.
type Key struct {
	Dev, Ino uint64
	AccMode  int
}

// Span is a mapped part of the guest range.
type Span struct {
	Start, End uint64
	Key        Key
	Off        uint64 // file offset at Start
	Prot       uint64 // the protection as the backend records it
	Stale      bool   // left by the previous process, not claimed
}

// OffAt is the file offset of guest address a in s.
func (s *Span) OffAt(a uint64) uint64 { return s.Off + (a - s.Start) }

// Spans is a sorted list of disjoint spans. Its methods return the new
// list and may reuse l's array: the caller keeps only what they return.
type Spans []Span

// find returns the index of the first span that ends after a.
func (l Spans) find(a uint64) int {
	return sort.Search(len(l), func(i int) bool { return l[i].End > a })
}

// Cut removes [start, end) from l. It costs a search and a move of the
// spans after the cut, not a copy of the list: a process that maps
// thousands of times (a heap grown by brk) records every map.
func (l Spans) Cut(start, end uint64) Spans {
	if start >= end {
		return l
	}
	i := l.find(start)
	j := i
	for j < len(l) && l[j].Start < end {
		j++
	}
	if i == j {
		return l
	}
	var rest [2]Span
	n := 0
	if l[i].Start < start {
		rest[n] = l[i]
		rest[n].End = start
		n++
	}
	if l[j-1].End > end {
		rest[n] = l[j-1]
		rest[n].Off = l[j-1].OffAt(end)
		rest[n].Start = end
		n++
	}
	return slices.Replace(l, i, j, rest[:n]...)
}

// Set records s, replacing whatever it covers, and joins it with the
// spans it continues (joins): a heap grown page by page stays one span.
func (l Spans) Set(s Span) Spans {
	l = l.Cut(s.Start, s.End)
	i := l.find(s.Start)
	if i > 0 && joins(&l[i-1], &s) {
		l[i-1].End = s.End
		if i < len(l) && joins(&l[i-1], &l[i]) {
			l[i-1].End = l[i].End
			l = slices.Delete(l, i, i+1)
		}
		return l
	}
	if i < len(l) && joins(&s, &l[i]) {
		l[i].Off, l[i].Start = s.Off, s.Start
		return l
	}
	return slices.Insert(l, i, s)
}

// joins says whether b starts where a ends and continues it: the same
// file, from the next offset, with the same protection and staleness.
func joins(a, b *Span) bool {
	return a.End == b.Start && a.Key == b.Key && a.Prot == b.Prot && a.Stale == b.Stale &&
		a.OffAt(a.End) == b.Off
}

// Protect sets the protection of the recorded parts of [start, end).
func (l Spans) Protect(start, end, prot uint64) Spans {
	var parts Spans
	for _, s := range l {
		if s.End <= start || s.Start >= end {
			continue
		}
		p := s
		if p.Start < start {
			p.Off, p.Start = p.OffAt(start), start
		}
		p.End = min(p.End, end)
		p.Prot = prot
		parts = append(parts, p)
	}
	for _, p := range parts {
		l = l.Set(p)
	}
	return l
}

// Claim reports whether spans cover all of [start, end) with the file k
// from offset off and protection prot, and marks them claimed if so (l is
// unchanged otherwise).
func (l Spans) Claim(start, end uint64, k Key, off, prot uint64) (Spans, bool) {
	at := start
	for _, s := range l[l.find(start):] {
		if s.Start >= end {
			break
		}
		if s.Start > at || s.Key != k || s.Prot != prot || s.OffAt(at) != off+(at-start) {
			return l, false
		}
		at = s.End
		if at >= end {
			break
		}
	}
	if at < end {
		return l, false
	}
	return l.Set(Span{Start: start, End: end, Key: k, Off: off, Prot: prot}), true
}

// StaleOnes returns the stale spans of l.
func (l Spans) StaleOnes() Spans {
	var out Spans
	for _, s := range l {
		if s.Stale {
			out = append(out, s)
		}
	}
	return out
}

// Keeps says whether a keeping recycle may keep a mapping of the file k:
// one of keep (elfuse's own files, which no guest reaches) or a file
// opened read-only. A mapping of a file open for writing would hold that
// file open for writing in an idle machine, and an exec of it would fail
// with ETXTBSY.
func Keeps(k Key, keep []Key) bool {
	for _, o := range keep {
		if k.Dev == o.Dev && k.Ino == o.Ino {
			return true
		}
	}
	return k.AccMode == unix.O_RDONLY
}
