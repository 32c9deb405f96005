package hvf

// Write tracking, for a fork that copies only the pages changed since the
// previous one (package hvf/wp; kernel/mm_track.go). The kernel sees the
// tracker through these names only, as it sees the backends through
// Machine.

import "github.com/elfuse/elfuse/hvf/wp"

// WriteTracker reports the pages of one address space written since its
// previous report on them (wp.Tracker).
type WriteTracker = wp.Tracker

// WriteRange is a page-aligned span [Start, End) of a tracked address
// space.
type WriteRange = wp.Range

// ErrWritesUntracked wraps the failures that say the host cannot track
// writes (wp.ErrUnsupported).
var ErrWritesUntracked = wp.ErrUnsupported

// NewSelfWriteTracker tracks this process's own writes (its window onto
// guest RAM).
func NewSelfWriteTracker() (*WriteTracker, error) { return wp.NewSelf() }

// WriteScanner reports the pages of ranges written since its previous
// report on them, and protects them again (WriteTracker.Written).
type WriteScanner interface {
	Written(ranges []WriteRange) ([]WriteRange, error)
}

// GuestWriteTracker is implemented by a Machine whose guest writes can be
// tracked (hvf/ptrace: the stub's address space; KVM: the host mappings
// its memory slots show). WriteTracker makes the scanner on the first call
// (from the machine's thread, no vCPU running) and returns the same one
// after; the Machine closes it with itself. Its ranges are guest
// addresses, each inside what the Machine maps.
type GuestWriteTracker interface {
	WriteTracker() (WriteScanner, error)
}

// HostPiece is a host-contiguous piece of guest memory: N bytes at host
// address Host show guest address Guest.
type HostPiece struct{ Guest, Host, N uint64 }

// GuestWritten scans pieces with t, a tracker of this process's own
// mappings, and returns what was written as guest ranges. The caller
// serialises the scans of t (it has one scratch buffer).
func GuestWritten(t *WriteTracker, pieces []HostPiece) ([]WriteRange, error) {
	host := make([]WriteRange, len(pieces))
	for i, p := range pieces {
		host[i] = WriteRange{Start: p.Host, End: p.Host + p.N}
	}
	got, err := t.Written(host)
	if err != nil {
		return nil, err
	}
	return guestOf(pieces, got), nil
}

// guestOf turns host ranges inside pieces into guest ranges, split where
// pieces end.
func guestOf(pieces []HostPiece, rs []WriteRange) []WriteRange {
	var out []WriteRange
	for _, r := range rs {
		for _, p := range pieces {
			if s, e := max(r.Start, p.Host), min(r.End, p.Host+p.N); s < e {
				out = append(out, WriteRange{Start: p.Guest + s - p.Host, End: p.Guest + e - p.Host})
			}
		}
	}
	return out
}
