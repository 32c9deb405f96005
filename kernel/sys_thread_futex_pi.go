package kernel

// Priority-inheritance futexes (FUTEX_LOCK_PI, FUTEX_LOCK_PI2,
// FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI), with the word protocol of Linux's
// Documentation/locking/pi-futex.rst: the word holds the owner's thread id,
// FUTEX_WAITERS once someone waits in the kernel and FUTEX_OWNER_DIED after
// a robust owner died. Uncontended lock and unlock are a compare-and-swap in
// the guest and never come here.
//
// The host cannot run these operations on the guest word: it would read the
// guest's thread ids as host ones. They are emulated here. Each guestproc
// keeps, per futex word (by host address), the state Linux keeps in its
// pi_state: the owner as last seen by the kernel and the queue of waiting
// threads. A contended lock sets FUTEX_WAITERS, queues the thread and waits
// on the word with an ordinary host futex wait; unlock hands the lock to the
// first waiter by writing its id (with FUTEX_WAITERS, as Linux does while
// the lock has kernel state) and wakes the word's waiters, of which only the
// new owner returns. A thread that exits owning such a lock hands it on the
// same way (exitPIStates), after its robust list marked it
// FUTEX_OWNER_DIED.
//
// Not done: priority boosting (the owner runs at its own priority), the
// requeue-PI operations (FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI: ENOSYS;
// glibc and musl condition variables do not use them), and exact handoff
// across processes: waiters of a process-shared lock in another process are
// not in this guestproc's queue, so an unlock that finds none here frees the
// word and wakes every waiter, and the first to take it wins.

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// piWaiter is one thread waiting for a PI futex.
type piWaiter struct {
	tid int32
	// granted is set (under piFutexes.mu) when an unlock made the thread
	// the owner.
	granted bool
}

// piState is the kernel's state of one contended PI futex word.
type piState struct {
	// uaddr is the guest address of the word, looked up again when an
	// exiting owner hands the lock on (the mapping may have changed).
	uaddr   abi.Addr
	owner   int32
	waiters []*piWaiter
}

// piFutexes are this guestproc's contended PI futexes, by the host address
// of their word.
var piFutexes struct {
	mu sync.Mutex
	m  map[uintptr]*piState
}

// piStateLocked returns the state of the word at h (guest address uaddr),
// made if need be. Preconditions: piFutexes.mu held.
func piStateLocked(h uintptr, uaddr abi.Addr) *piState {
	if piFutexes.m == nil {
		piFutexes.m = map[uintptr]*piState{}
	}
	s := piFutexes.m[h]
	if s == nil {
		s = &piState{}
		piFutexes.m[h] = s
	}
	s.uaddr = uaddr
	return s
}

// remove takes w out of the queue.
func (s *piState) remove(w *piWaiter) {
	for i, o := range s.waiters {
		if o == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}

// piWord returns the host address and a view of the PI futex word at uaddr.
func (t *Task) piWord(uaddr abi.Addr) (uintptr, []byte, error) {
	h, err := t.futexHostAddr(uaddr, true)
	if err != nil {
		return 0, nil, err
	}
	word, err := t.Slice(uaddr, 4, true)
	if err != nil {
		return 0, nil, abi.EFAULT
	}
	return h, word, nil
}

// piOwnerExists reports whether thread tid, the owner a futex word names,
// exists: a thread of this process, or of another one (a process-shared
// lock), which a signal-0 probe finds.
func (t *Task) piOwnerExists(tid int32) bool {
	if tid == t.Tid || t.Proc.taskByTid(tid) != nil {
		return true
	}
	err := t.tgkill(-1, tid, 0)
	return err == nil || err != abi.ESRCH
}

// futexLockPI is FUTEX_LOCK_PI (clock CLOCK_REALTIME), FUTEX_LOCK_PI2 (clock
// as flags say) and, with try, FUTEX_TRYLOCK_PI. The timeout at tsAddr is
// absolute.
func (t *Task) futexLockPI(uaddr abi.Addr, flags int32, tsAddr abi.Addr, clock int32, try bool) error {
	var deadline abi.Timespec
	timed := tsAddr != 0 && !try
	if timed {
		ts, err := futexTimeout(t, tsAddr)
		if err != nil {
			return err
		}
		deadline = ts
	}
	h, word, err := t.piWord(uaddr)
	if err != nil {
		return err
	}
	me := uint32(t.Tid)
	var w *piWaiter
	waited := false
	for {
		piFutexes.mu.Lock()
		if w != nil && w.granted {
			piFutexes.mu.Unlock()
			return nil
		}
		v := atomicLoad32(word)
		owner := v & abi.FUTEX_TID_MASK
		switch {
		case owner == 0:
			// Free (an owner died, or a cross-process unlock freed it):
			// take it, keeping FUTEX_OWNER_DIED for the caller to see.
			s := piFutexes.m[h]
			if w != nil && s != nil {
				s.remove(w)
			}
			nv := v&abi.FUTEX_OWNER_DIED | me
			if waited || s != nil && len(s.waiters) > 0 {
				nv |= abi.FUTEX_WAITERS
			}
			if !atomicCAS32(word, v, nv) {
				piFutexes.mu.Unlock()
				continue
			}
			if s != nil {
				s.owner = t.Tid
				if len(s.waiters) == 0 && nv&abi.FUTEX_WAITERS == 0 {
					delete(piFutexes.m, h)
				}
			}
			piFutexes.mu.Unlock()
			return nil
		case owner == me:
			piFutexes.mu.Unlock()
			return abi.EDEADLK
		}
		piFutexes.mu.Unlock()
		if w == nil && !t.piOwnerExists(int32(owner)) {
			return abi.ESRCH
		}
		piFutexes.mu.Lock()
		nv := v | abi.FUTEX_WAITERS
		if nv != v && !atomicCAS32(word, v, nv) {
			piFutexes.mu.Unlock()
			continue
		}
		if try {
			piFutexes.mu.Unlock()
			return abi.EAGAIN
		}
		s := piStateLocked(h, uaddr)
		s.owner = int32(owner)
		if w == nil {
			w = &piWaiter{tid: t.Tid}
			s.waiters = append(s.waiters, w)
		}
		piFutexes.mu.Unlock()

		err := t.piSleep(h, flags, nv, timed, deadline, clock)
		waited = true
		if err == nil {
			continue
		}
		piFutexes.mu.Lock()
		granted := w.granted
		if !granted {
			if s := piFutexes.m[h]; s != nil {
				s.remove(w)
			}
		}
		piFutexes.mu.Unlock()
		if granted {
			return nil
		}
		return err
	}
}

// piSleep waits on the word at h while it holds val: nil when woken or the
// word changed, ETIMEDOUT past the deadline, ERESTARTNOINTR for a guest
// signal (Linux restarts a PI lock after the handler whatever SA_RESTART
// says).
func (t *Task) piSleep(h uintptr, flags int32, val uint32, timed bool, deadline abi.Timespec, clock int32) error {
	op := abi.FUTEX_WAIT_BITSET | flags&abi.FUTEX_PRIVATE_FLAG
	if clock == abi.CLOCK_REALTIME {
		op |= abi.FUTEX_CLOCK_REALTIME
	}
	d := deadline
	if !timed {
		var err error
		if d, err = sliceDeadline(clock); err != nil {
			return err
		}
	}
	interrupted, err := t.hostWait(func() error {
		_, err := hostFutexWait(h, int32(op), val, d, abi.FUTEX_BITSET_MATCH_ANY)
		return err
	})
	switch {
	case interrupted:
		return abi.ERESTARTNOINTR
	case err == unix.ETIMEDOUT && timed:
		return abi.ETIMEDOUT
	}
	return nil // woken, changed, a host signal or an untimed slice: look again
}

// futexUnlockPI is FUTEX_UNLOCK_PI: the caller must own the word (EPERM);
// the lock goes to the first waiter, or is freed.
func (t *Task) futexUnlockPI(uaddr abi.Addr) error {
	h, word, err := t.piWord(uaddr)
	if err != nil {
		return err
	}
	me := uint32(t.Tid)
	piFutexes.mu.Lock()
	defer piFutexes.mu.Unlock()
	for {
		v := atomicLoad32(word)
		if v&abi.FUTEX_TID_MASK != me {
			return abi.EPERM
		}
		if t.piHandOffLocked(h, word, v) {
			return nil
		}
	}
}

// piHandOffLocked passes the lock in word (value v) to the first waiter
// queued for it, or frees it; false when the word changed meanwhile.
// Preconditions: piFutexes.mu held.
func (t *Task) piHandOffLocked(h uintptr, word []byte, v uint32) bool {
	s := piFutexes.m[h]
	var next *piWaiter
	if s != nil && len(s.waiters) > 0 {
		next = s.waiters[0]
	}
	nv := uint32(0)
	if next != nil {
		nv = uint32(next.tid) | abi.FUTEX_WAITERS
		if v&abi.FUTEX_TID_MASK == 0 {
			nv |= v & abi.FUTEX_OWNER_DIED // its owner died: tell the next one
		}
	}
	if !atomicCAS32(word, v, nv) {
		return false
	}
	if next != nil {
		next.granted = true
		s.waiters = s.waiters[1:]
		s.owner = next.tid
	} else {
		delete(piFutexes.m, h)
	}
	if v&abi.FUTEX_WAITERS != 0 {
		piWakeAll(h)
	}
	return true
}

// piWakeAll wakes every thread waiting on the word at h, private or
// process-shared: each looks again, and only a new owner returns. Waiters
// in other processes (not queued here) find the word free.
func piWakeAll(h uintptr) {
	_, _ = hostFutexOp(h, abi.FUTEX_WAKE|abi.FUTEX_PRIVATE_FLAG, 1<<30, 0, 0, 0)
	_, _ = hostFutexOp(h, abi.FUTEX_WAKE, 1<<30, 0, 0, 0)
}

// piQueued reports whether threads of this process wait for the word at h.
func piQueued(h uintptr) bool {
	piFutexes.mu.Lock()
	defer piFutexes.mu.Unlock()
	s := piFutexes.m[h]
	return s != nil && len(s.waiters) > 0
}

// exitPIStates hands on the PI futexes the exiting task owns and others
// wait for, as Linux's exit_pi_state_list: after the robust list marked
// a robust one FUTEX_OWNER_DIED (its word then names no owner), the next
// owner gets it with that bit.
func (t *Task) exitPIStates() {
	piFutexes.mu.Lock()
	defer piFutexes.mu.Unlock()
	for h, s := range piFutexes.m {
		if s.owner != t.Tid || len(s.waiters) == 0 {
			continue
		}
		hh, word, err := t.piWord(s.uaddr)
		if err != nil || hh != h {
			delete(piFutexes.m, h) // unmapped or moved: stale
			continue
		}
		for {
			v := atomicLoad32(word)
			if o := v & abi.FUTEX_TID_MASK; o != 0 && o != uint32(t.Tid) {
				break // taken meanwhile
			}
			if t.piHandOffLocked(h, word, v) {
				break
			}
		}
	}
}

// piTimeoutClock is the clock of a PI lock's timeout: CLOCK_REALTIME for
// FUTEX_LOCK_PI, as flags say for FUTEX_LOCK_PI2.
func piTimeoutClock(cmd, flags int32) int32 {
	if cmd == abi.FUTEX_LOCK_PI || flags&abi.FUTEX_CLOCK_REALTIME != 0 {
		return abi.CLOCK_REALTIME
	}
	return abi.CLOCK_MONOTONIC
}
