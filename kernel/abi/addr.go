// Package abi holds the parts of the Linux x86-64 ABI that the elfuse kernel
// speaks: numbers, errnos, structures with their Linux names and explicit
// padding, and the typed guest address Addr. It imports only the standard
// library so every other package can depend on it.
package abi

// PageSize is the guest page size.
const PageSize = 4096

// Addr is a guest-virtual address. Raw uint64 values never stand for guest
// addresses outside this package.
type Addr uint64

// AddLength returns a+length and ok=false if the sum overflows.
func (a Addr) AddLength(length uint64) (end Addr, ok bool) {
	end = a + Addr(length)
	return end, end >= a
}

// RoundDown returns a rounded down to a page boundary.
func (a Addr) RoundDown() Addr { return a &^ (PageSize - 1) }

// RoundUp returns a rounded up to a page boundary and ok=false on overflow.
func (a Addr) RoundUp() (Addr, bool) {
	r := (a + PageSize - 1) &^ (PageSize - 1)
	return r, r >= a
}

// PageAligned reports whether a is a multiple of PageSize.
func (a Addr) PageAligned() bool { return a&(PageSize-1) == 0 }

// Range is the half-open guest address range [Start, End).
type Range struct {
	Start, End Addr
}

// Len returns the length of r in bytes.
func (r Range) Len() uint64 { return uint64(r.End - r.Start) }

// Contains reports whether a lies inside r.
func (r Range) Contains(a Addr) bool { return a >= r.Start && a < r.End }

// Overlaps reports whether r and o share at least one byte.
func (r Range) Overlaps(o Range) bool { return r.Start < o.End && o.Start < r.End }

// Intersect returns the common part of r and o (empty if none).
func (r Range) Intersect(o Range) Range {
	s, e := max(r.Start, o.Start), min(r.End, o.End)
	if s >= e {
		return Range{}
	}
	return Range{s, e}
}
