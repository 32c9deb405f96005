package hvf

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf/internal/maplayout"
)

// Keeping a recycled KVM machine's mappings for its next process.
//
// Recycle drops every guest mapping: page-table entries cleared, host
// windows turned back into reservations (which fires the MMU notifier, a
// walk of the shadow mappings on a PVM host), and the next process, most
// often a fork child of the same parent, maps the same files at the same
// places again and faults its translations back in. So the machine
// records what it mapped (layout: file, offset, protection per span), and
// RecycleKeeping leaves in place the spans of elfuse's own files (the RAM
// the guestproc keeps, the vDSO's data page) and of read-only files
// (maplayout.Keeps), stale. The next process claims a span by mapping it
// again the same way, which then costs nothing; a map over one replaces
// it; what is still stale when a vCPU first runs is unmapped then. So a
// process never sees a mapping it did not make. Protect and Unmap drop
// their range from the record: what it does not hold is never kept.

// kvmFileKey identifies the open file behind fd for the layout.
func kvmFileKey(fd int) (maplayout.Key, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return maplayout.Key{}, err
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return maplayout.Key{}, err
	}
	return maplayout.Key{Dev: st.Dev, Ino: st.Ino, AccMode: fl & unix.O_ACCMODE}, nil
}

// claimMap reports whether a Map of fd (key k, err its error) is already
// in place, and takes the spans over if so.
// Preconditions: m.mu held.
func (m *kvmMachine) claimMap(addr, length uint64, prot Prot, k maplayout.Key, kerr error, off int64) bool {
	if kerr != nil || len(m.layout) == 0 {
		return false
	}
	l, ok := m.layout.Claim(addr, addr+length, k, uint64(off), uint64(prot))
	m.layout = l
	return ok
}

// RecycleKeeping is Recycle, except that the mappings of the files behind
// fds (elfuse's own, which no guest reaches) and of read-only files stay
// for the next process to claim (see above).
func (m *kvmMachine) RecycleKeeping(fds []int) error {
	keys := make([]maplayout.Key, 0, len(fds))
	for _, fd := range fds {
		if k, err := kvmFileKey(fd); err == nil {
			keys = append(keys, k)
		}
	}
	return m.recycle(keys, true)
}

// keptSpans are the spans of the layout a keeping recycle keeps, stale.
// Preconditions: m.mu held.
func (m *kvmMachine) keptSpans(keys []maplayout.Key) maplayout.Spans {
	var kept maplayout.Spans
	for _, s := range m.layout {
		if maplayout.Keeps(s.Key, keys) && m.regions.covers(s.Start, s.End) {
			s.Stale = true
			kept = append(kept, s)
		}
	}
	return kept
}

// dropStale unmaps what the previous process left and this one did not
// claim; a vCPU's first Run calls it.
func (m *kvmMachine) dropStale() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stale.Load() {
		return nil
	}
	for _, s := range m.layout.StaleOnes() {
		if err := m.unmapLocked(s.Start, s.End-s.Start); err != nil {
			return fmt.Errorf("kvm: unmap the previous process's mapping: %w", err)
		}
	}
	m.stale.Store(false)
	return nil
}

// dropStaleIn drops the stale parts of [start, end) ahead of a map that
// does not claim them, as Recycle would have: the map then replaces
// nothing, and its page-table change needs no flush.
// Preconditions: m.mu held.
func (m *kvmMachine) dropStaleIn(start, end uint64) error {
	for _, s := range m.layout.StaleOnes() {
		lo, hi := max(s.Start, start), min(s.End, end)
		if lo < hi {
			if err := m.dropRange(lo, hi); err != nil {
				return fmt.Errorf("kvm: map over the previous process's mapping: %w", err)
			}
		}
	}
	return nil
}
