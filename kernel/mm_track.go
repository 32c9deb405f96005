package kernel

// Which pages of private RAM changed, for a fork that copies only those.
//
// A fork child copies its parent's private memory (ChildRAM.CopyFrom): 4
// MiB took ~320 µs of a ~800 µs fork on this project's host, the cycle's
// largest cost. The child most often copies into the RAM its guestproc
// kept from the previous child of the same parent (a shell's subshells, a
// fork loop), which already holds that parent's memory as it was at the
// previous fork, except for what that child changed. So the parent tells
// which pages it changed since that fork, the kept RAM which ones its
// process changed, and the child copies those only.
//
// What changes RAM, and how each is seen:
//   - guest stores, through the Machine's mappings: its tracker
//     (hvf.GuestWriteTracker; hvf/ptrace's stub), so only on backends
//     that have one;
//   - this kernel's copies through the window (syscall results, signal
//     frames, mremap's moves): the tracker of this process (hvf/wp);
//   - writes and punches through the RAM's descriptor (writeRAM,
//     sendFile, punch): logged by noteWrite;
//   - a vfork child running on the RAM: not seen; lending it loses the
//     record (trackLent), and the next fork copies everything.
//
// Each side errs only towards more: a page table entry with no protection
// marker reads as written (hvf/wp), a range the guest cannot reach
// (PROT_NONE: not mapped by the Machine) is taken as changed, and any
// failure makes the fork copy everything. ELFUSE_FORK_CHECK=1 has the
// child compare what it did not copy with the parent's (the tests set it).

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// ForkWrites is the part of a fork image that says which parts of the
// extents changed since an earlier fork of the same RAM.
type ForkWrites struct {
	// Track names the parent's RAM (0: not tracked); Now is the count
	// of its forks with this one: the child's copy is the RAM as of
	// fork (Track, Now).
	Track, Now uint64
	// Bases, newest first, each say which pages of the extents changed
	// since an earlier fork of the RAM: a kept RAM that is a copy as of
	// one of them needs only those (and its own changes) copied. A parent
	// whose children end out of order (a pipeline's two) finds its
	// ticket's spare holding the copy of a fork before the last.
	Bases []ForkBase
}

// ForkBase is the pages changed since fork (ForkWrites.Track, Since).
type ForkBase struct {
	Since uint64
	Dirty []abi.Range
}

// histMax bounds the forks a parent keeps the changes of (ForkWrites.Bases).
const histMax = 4

// ramTrack is an MM's record of the changes to its RAM.
type ramTrack struct {
	mu sync.Mutex
	// guest is the Machine's tracker.
	guest hvf.WriteScanner
	// id names the RAM among all; gen counts its forks; based says the
	// trackers have seen every extent since fork gen (so the next fork
	// can tell what changed since).
	id, gen uint64
	based   bool
	// log holds what changed through the descriptor since the last scan.
	log []abi.Range
	// hist, newest first, are the changes found at the last forks, each
	// since the one before: hist[0] since fork gen-1 (the latest), and
	// so on while the record holds.
	hist [][]abi.Range
	// For a fork child's RAM: the fork it is a copy of (baseID 0: none,
	// or lost) and every range changed since, for keepRAM.
	baseID, baseGen uint64
	changed         []abi.Range
}

// trackMu serialises the trackers' scans (each has one scratch buffer).
var trackMu sync.Mutex

// selfTracker is this process's tracker of its own writes (the window).
var selfTracker = sync.OnceValues(hvf.NewSelfWriteTracker)

// forkCheck says the fork child compares what it did not copy.
var forkCheck = os.Getenv("ELFUSE_FORK_CHECK") == "1"

// trackFor returns m's record, made now when it can be (on the Machine's
// thread, no vCPU running): nil on a backend without a guest tracker, for
// borrowed RAM, or when the host cannot track.
func (m *MM) trackFor() *ramTrack {
	m.mu.RLock()
	tr, borrowed, machine := m.track, m.borrowed, m.machine
	m.mu.RUnlock()
	if tr != nil || borrowed || m.trackOff.Load() {
		return tr
	}
	g, ok := machine.(hvf.GuestWriteTracker)
	if !ok {
		m.trackOff.Store(true)
		return nil
	}
	guest, err := g.WriteTracker()
	if err == nil {
		_, err = selfTracker()
	}
	if err != nil {
		m.trackOff.Store(true)
		return nil
	}
	tr = &ramTrack{guest: guest, id: rand.Uint64() | 1, gen: 1}
	m.mu.Lock()
	if m.track == nil {
		m.track = tr
	}
	tr = m.track
	m.mu.Unlock()
	return tr
}

// noteWrite logs a change to RAM range r made through the descriptor.
func (m *MM) noteWrite(r abi.Range) {
	tr := m.track
	if tr == nil || r.Len() == 0 {
		return
	}
	end, _ := r.End.RoundUp() // guest RAM ends well below the top
	r = abi.Range{Start: r.Start.RoundDown(), End: end}
	tr.mu.Lock()
	if n := len(tr.log); n > 0 && tr.log[n-1].End >= r.Start && tr.log[n-1].Start <= r.End {
		tr.log[n-1] = abi.Range{Start: min(tr.log[n-1].Start, r.Start), End: max(tr.log[n-1].End, r.End)}
	} else {
		tr.log = append(tr.log, r)
	}
	tr.mu.Unlock()
}

// trackLent records that a vfork child runs on the RAM: its changes go
// unseen.
func (m *MM) trackLent() {
	m.mu.RLock()
	tr := m.track
	m.mu.RUnlock()
	if tr != nil {
		tr.mu.Lock()
		tr.based, tr.baseID, tr.changed, tr.hist = false, 0, nil, nil
		tr.mu.Unlock()
	}
}

// trackMinBytes is the least private memory a fork parent tracks: below
// it the copy costs less than the scans (~40-80 µs a fork for busybox sh's
// ~300 KiB in 7 ranges on this project's PVM host, against ~25 µs to copy
// it).
var trackMinBytes uint64 = 1 << 20

// maxDirtyRanges bounds the changed ranges a fork image carries (16 bytes
// each); past it the child copies everything.
const maxDirtyRanges = 8192

// forkWrites is the parent's side of a fork of copied bytes of extents:
// which of them changed since its previous tracked fork, and the
// protection of all of them again for the next.
// Preconditions: on the vCPU thread, no guest code of the process runs
// until the child has copied.
func (m *MM) forkWrites(extents []abi.Range, copied uint64) ForkWrites {
	if copied < trackMinBytes {
		return ForkWrites{} // the next tracked fork counts from the last
	}
	tr := m.trackFor()
	if tr == nil {
		return ForkWrites{}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	dirty, err := m.scanWrites(tr, extents)
	w := ForkWrites{Track: tr.id, Now: tr.gen + 1}
	if err != nil || !tr.based {
		tr.hist = nil
	}
	if err == nil && tr.based {
		w.Bases = forkBases(tr.gen, dirty, tr.hist)
		tr.hist = append([][]abi.Range{dirty}, tr.hist[:min(len(tr.hist), histMax-1)]...)
	}
	tr.gen++
	tr.based = err == nil
	tr.note(dirty, err)
	return w
}

// forkBases are the bases of a fork at gen (ForkWrites.Bases): since fork
// gen, what its scan found (dirty); since the one before, that and what
// the last fork's found (hist[0]); and so on, while the lists stay short
// enough for the image.
func forkBases(gen uint64, dirty []abi.Range, hist [][]abi.Range) []ForkBase {
	var bases []ForkBase
	acc, n := dirty, len(dirty)
	for i := 0; n <= maxDirtyRanges; i++ {
		bases = append(bases, ForkBase{Since: gen - uint64(i), Dirty: acc})
		if i == len(hist) || gen-uint64(i) <= 2 { // no fork made a copy as of 1
			break
		}
		acc = mergeRanges(acc, hist[i])
		n += len(hist[i])
	}
	return bases
}

// note adds a scan's result to what a fork child's RAM changed since its
// copy; a failed scan loses that record.
// Preconditions: tr.mu held.
func (tr *ramTrack) note(dirty []abi.Range, err error) {
	if err != nil {
		tr.baseID, tr.changed = 0, nil
	} else if tr.baseID != 0 {
		tr.changed = mergeRanges(tr.changed, dirty)
	}
}

// trackForked starts the record of a fork child's RAM, a copy of its
// parent's as of fork w (Track, Now). The child of a tracked parent copied
// through the descriptor (ChildRAM.CopyFrom), which neither tracker sees,
// so nothing needs protecting again: the pages the guest's mappings and
// the window kept from the RAM's previous process are protected since its
// end (keptWrites), and a page that is not reads as written at the end,
// which errs towards more.
// Preconditions: on the Machine's thread, before the child runs.
func (m *MM) trackForked(w ForkWrites) {
	if w.Track == 0 {
		return // nothing to tell the next fork's child: no record
	}
	tr := m.trackFor()
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.based, tr.changed = false, nil
	tr.baseID, tr.baseGen = w.Track, w.Now
}

// keptWrites is keepRAM's part: the ranges of RAM changed since the fork
// it is a copy of, and that fork (0 if unknown).
// Preconditions: the process's threads are gone; m.mu not held.
func (m *MM) keptWrites() (track, gen uint64, changed []abi.Range) {
	tr := m.track
	if tr == nil {
		return 0, 0, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var extents []abi.Range
	for i := range m.vmas {
		if v := &m.vmas[i]; !v.shared && !v.direct {
			extents = m.pop.appendExtents(extents, m.ramfd, v.rng())
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	dirty, err := m.scanWrites(tr, extents)
	tr.note(dirty, err)
	if tr.baseID == 0 {
		return 0, 0, nil
	}
	return tr.baseID, tr.baseGen, mergeRanges(tr.changed, tr.log)
}

// scanWrites returns the parts of ranges (private RAM of m: fork extents)
// changed since the previous scan of them, protects them again, and
// empties the log.
// Preconditions: m.mu held for reading, then tr.mu; no guest code of the
// process runs.
func (m *MM) scanWrites(tr *ramTrack, ranges []abi.Range) ([]abi.Range, error) {
	var guest []hvf.WriteRange
	var changed []abi.Range
	for _, r := range ranges {
		// The Machine maps the VMAs that are not PROT_NONE; what the
		// others hold cannot be scanned there: taken as changed.
		at := r.Start
		for i := m.find(at); i < len(m.vmas) && at < r.End; i++ {
			v := &m.vmas[i]
			if v.start > at {
				changed = append(changed, abi.Range{Start: at, End: min(v.start, r.End)})
				at = min(v.start, r.End)
				if at >= r.End {
					break
				}
			}
			end := min(v.end, r.End)
			if v.prot == 0 || v.shared || v.direct {
				changed = append(changed, abi.Range{Start: at, End: end})
			} else {
				guest = append(guest, hvf.WriteRange{Start: uint64(at), End: uint64(end)})
			}
			at = end
		}
		if at < r.End {
			changed = append(changed, abi.Range{Start: at, End: r.End})
		}
	}
	trackMu.Lock()
	gw, err := tr.guest.Written(guest)
	trackMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("mm: track writes: %w", err)
	}
	sw, err := m.scanWindow(m.windowPieces(ranges))
	if err != nil {
		return nil, err
	}
	for _, g := range gw {
		changed = append(changed, abi.Range{Start: abi.Addr(g.Start), End: abi.Addr(g.End)})
	}
	changed = append(changed, sw...)
	changed = append(changed, tr.log...)
	tr.log = nil
	return normalRanges(changed), nil
}

// windowPieces lists the window's host pieces of ranges.
// Preconditions: m.mu held.
func (m *MM) windowPieces(ranges []abi.Range) []hvf.HostPiece {
	var pieces []hvf.HostPiece
	if m.window == nil {
		return nil
	}
	for _, r := range ranges {
		m.window.pieces(r, func(at abi.Addr, b []byte) error {
			pieces = append(pieces, hvf.HostPiece{Guest: uint64(at), Host: hostAddrOf(b), N: uint64(len(b))})
			return nil
		})
	}
	return pieces
}

// scanWindow returns the parts of pieces written through the window since
// their previous scan, and protects them again.
func (m *MM) scanWindow(pieces []hvf.HostPiece) ([]abi.Range, error) {
	self, err := selfTracker()
	if err != nil {
		return nil, err
	}
	trackMu.Lock()
	sw, err := hvf.GuestWritten(self, pieces)
	trackMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("mm: track window writes: %w", err)
	}
	out := make([]abi.Range, len(sw))
	for i, r := range sw {
		out[i] = abi.Range{Start: abi.Addr(r.Start), End: abi.Addr(r.End)}
	}
	return out, nil
}

// normalRanges sorts rs and merges those that overlap or touch.
func normalRanges(rs []abi.Range) []abi.Range {
	var out []abi.Range
	for _, r := range rs {
		if r.Len() > 0 {
			out = mergeRanges(out, []abi.Range{r})
		}
	}
	return out
}

// incremental returns, when c, kept, holds the parent's RAM as of one of
// w's bases but for the ranges c.changed, what changed since that base:
// only that and c.changed need copying.
func (c *ChildRAM) incremental(w ForkWrites) ([]abi.Range, bool) {
	if !c.kept || w.Track == 0 || c.track != w.Track || c.gen == 0 {
		return nil, false
	}
	for _, b := range w.Bases {
		if b.Since == c.gen {
			return b.Dirty, true
		}
	}
	return nil, false
}

// errForkCheck is a page an incremental copy left as it was but that
// differs from the parent's (ELFUSE_FORK_CHECK=1).
var errForkCheck = errors.New("fork check failed")

// checkCopy compares ranges of the parent's RAM src with c's (the parts an
// incremental copy left as they were): an error names the first page that
// differs.
func (c *ChildRAM) checkCopy(src int, ranges []abi.Range) error {
	a, b := make([]byte, 1<<16), make([]byte, 1<<16)
	for _, r := range ranges {
		for at := r.Start; at < r.End; {
			n := min(uint64(len(a)), uint64(r.End-at))
			if _, err := preadFull(src, a[:n], int64(at)); err != nil {
				return err
			}
			if _, err := preadFull(c.fd, b[:n], int64(at)); err != nil {
				return err
			}
			if !bytes.Equal(a[:n], b[:n]) {
				for p := uint64(0); p < n; p += abi.PageSize {
					if !bytes.Equal(a[p:p+abi.PageSize], b[p:p+abi.PageSize]) {
						return fmt.Errorf("%w: page %#x not copied but changed", errForkCheck, uint64(at)+p)
					}
				}
			}
			at += abi.Addr(n)
		}
	}
	return nil
}
