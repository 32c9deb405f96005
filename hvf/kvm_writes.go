package hvf

// The guest's writes under KVM (GuestWriteTracker): its memory is this
// process's own mappings of the guest's files, which the memory slots
// show, so the guestproc's own write tracker (hvf/wp) sees them. A write
// through a protected page table entry faults in KVM's translation (the
// scan that protects them fires the MMU notifier, which drops KVM's
// writable translations) and the fault resolves the protection like any
// other.

import (
	"errors"
	"fmt"
	"sync"

	"github.com/elfuse/elfuse/hvf/wp"
)

// kvmSelfWrites is this process's tracker of the KVM machines' mappings:
// one userfaultfd for all (another than the kernel's window tracker, on
// other mappings); kvmSelfMu serialises its scans (one scratch buffer).
var (
	kvmSelfWrites = sync.OnceValues(wp.NewSelf)
	kvmSelfMu     sync.Mutex
)

// kvmWrites scans a machine's guest ranges through its host mappings.
type kvmWrites struct {
	m    *kvmMachine
	self *wp.Tracker
}

// WriteTracker implements GuestWriteTracker.
func (m *kvmMachine) WriteTracker() (WriteScanner, error) {
	t, err := kvmSelfWrites()
	if err != nil {
		return nil, err
	}
	return &kvmWrites{m: m, self: t}, nil
}

// Written implements WriteScanner: the host pieces of ranges, scanned, and
// what they report turned back into guest addresses.
func (w *kvmWrites) Written(ranges []WriteRange) ([]WriteRange, error) {
	m := w.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("kvm: write scan of a closed machine")
	}
	var pieces []HostPiece
	for _, r := range ranges {
		at := r.Start
		err := m.forHost(r.Start, r.End, false, func(host uintptr, a, n uint64) error {
			if a != at {
				return fmt.Errorf("kvm: write scan of %#x: no memory there", at)
			}
			pieces = append(pieces, HostPiece{Guest: a, Host: uint64(host), N: n})
			at = a + n
			return nil
		})
		if err == nil && at != r.End {
			err = fmt.Errorf("kvm: write scan of %#x: no memory there", at)
		}
		if err != nil {
			return nil, err
		}
	}
	kvmSelfMu.Lock()
	out, err := GuestWritten(w.self, pieces)
	kvmSelfMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("kvm: %w", err)
	}
	return out, nil
}
