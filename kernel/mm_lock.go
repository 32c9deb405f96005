package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Memory locking.
//
// The guest's pages are the host pages of the window (RAM memfd pages,
// the file's page cache for direct and shared file mappings), the same
// pages the Machine maps for the guest. Locking the window's range
// therefore keeps exactly the guest's pages resident, with the host
// kernel's own rules: RLIMIT_MEMLOCK and CAP_IPC_LOCK of the guestproc,
// which are the guest's (its rlimits and credentials are the host's), and
// the population of the range that mlock implies.

// Lock locks (or, with lock false, unlocks) the pages of r, which must be
// entirely mapped (ENOMEM otherwise, as Linux's mlock). onFault leaves
// pages unpopulated until touched (MLOCK_ONFAULT).
func (m *MM) Lock(r abi.Range, lock, onFault bool) error {
	if r.End > m.limit {
		return abi.ENOMEM
	}
	// A direct VMA's locked pages are its file's: the window must show it.
	if _, err := m.rlockShowing(r.Start, r.Len(), nil); err != nil {
		return abi.ENOMEM
	}
	defer m.mu.RUnlock()
	if !m.covered(r) {
		return abi.ENOMEM
	}
	if lock {
		m.everLocked.Store(true) // the window is not reused (releaseForExec)
	}
	err := m.window.pieces(r, func(_ abi.Addr, b []byte) error {
		switch {
		case !lock:
			return unix.Munlock(b)
		case onFault:
			return hostMlock2(b, unix.MLOCK_ONFAULT)
		default:
			return unix.Mlock(b)
		}
	})
	if err != nil {
		return hostErrno(err)
	}
	return nil
}

// LockAll locks every mapped range (mlockall's MCL_CURRENT), or unlocks
// them all.
func (m *MM) LockAll(lock, onFault bool) error {
	m.mu.RLock()
	ranges := make([]abi.Range, 0, len(m.vmas))
	for i := range m.vmas {
		ranges = append(ranges, m.vmas[i].rng())
	}
	m.mu.RUnlock()
	for _, r := range ranges {
		if err := m.Lock(r, lock, onFault); err != nil && err != abi.ENOMEM {
			return err // ENOMEM: unmapped meanwhile, nothing to lock
		}
	}
	return nil
}

// SetLockFuture records mlockall's MCL_FUTURE (onFault: MCL_ONFAULT) or,
// with on false, munlockall's end of it: mappings made later are locked
// as they are made (lockNew, lockGrowth).
func (m *MM) SetLockFuture(on, onFault bool) {
	m.lockFuture.Store(on)
	m.lockOnFault.Store(onFault)
}

// lockNew locks a mapping just made at [at, at+length) when MCL_FUTURE is
// in force; if the host refuses (RLIMIT_MEMLOCK), the mapping is undone
// and mmap fails with EAGAIN, as Linux's mm_populate refusal does.
func (m *MM) lockNew(at abi.Addr, length uint64) error {
	if !m.lockFuture.Load() {
		return nil
	}
	if err := m.lockFutureRange(at, length); err != nil {
		m.Munmap(at, length)
		return abi.EAGAIN
	}
	return nil
}

// lockFutureRange locks [at, at+length) rounded to pages when MCL_FUTURE
// is in force.
func (m *MM) lockFutureRange(at abi.Addr, length uint64) error {
	if !m.lockFuture.Load() {
		return nil
	}
	r, ok := lockRange(at, length)
	if !ok {
		return abi.EINVAL
	}
	return m.Lock(r, true, m.lockOnFault.Load())
}

// lockGrowth locks the heap between the old and the new break under
// MCL_FUTURE and returns the break: the old one if locking failed (brk
// then fails, as Linux's does when the grown heap cannot be locked).
func (m *MM) lockGrowth(old, brk abi.Addr) abi.Addr {
	if brk <= old || !m.lockFuture.Load() {
		return brk
	}
	if m.lockFutureRange(old, uint64(brk-old)) != nil {
		return m.SetBrk(old)
	}
	return brk
}
