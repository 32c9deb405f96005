// Package maplayout records what a backend has mapped in a guest range, so
// that a recycled machine can keep mappings for its next process (the
// ptrace backend's stub, a KVM machine's host windows and page tables) and
// let that process claim those it maps again the same way.
package maplayout

import "golang.org/x/sys/unix"

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

// Spans is a sorted list of disjoint spans.
type Spans []Span

// Cut removes [start, end) from l.
func (l Spans) Cut(start, end uint64) Spans {
	if start >= end {
		return l
	}
	out := l[:0:0]
	for _, s := range l {
		if s.End <= start || s.Start >= end {
			out = append(out, s)
			continue
		}
		if s.Start < start {
			left := s
			left.End = start
			out = append(out, left)
		}
		if s.End > end {
			right := s
			right.Off = s.OffAt(end)
			right.Start = end
			out = append(out, right)
		}
	}
	return out
}

// Set records s, replacing whatever it covers.
func (l Spans) Set(s Span) Spans {
	l = l.Cut(s.Start, s.End)
	i := 0
	for i < len(l) && l[i].Start < s.Start {
		i++
	}
	l = append(l, Span{})
	copy(l[i+1:], l[i:])
	l[i] = s
	return l
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
	for _, s := range l {
		if s.End <= at || s.Start >= end {
			continue
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
