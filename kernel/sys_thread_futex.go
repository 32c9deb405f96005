package kernel

import (
	"errors"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// futex(2) runs on host futexes at the host address of the guest word. Guest
// memory is a host mapping of the guest's memfd, so the host kernel sees the
// same word the guest does: FUTEX_PRIVATE_FLAG futexes are keyed by the
// guestproc's own address space (every guest thread is one of its host
// threads), and shared futexes by the memfd's inode and offset, so
// process-shared futexes in MAP_SHARED memory work across guestprocs.
//
// Waits always go to the host as FUTEX_WAIT_BITSET with an absolute
// deadline, so that a guest signal can interrupt them (see
// sys_thread_wait.go). Priority-inheritance operations would have the host
// read guest thread ids from the futex word: they are emulated
// (sys_thread_futex_pi.go).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_FUTEX: {Name: "futex", Fn: Futex, Support: Partial,
			Note: "WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, the BITSET forms, LOCK_PI, LOCK_PI2, TRYLOCK_PI and UNLOCK_PI (no priority boosting); requeue-PI and FUTEX_FD ops ENOSYS"},
	})
}

// hostAddrMemory is the part of the mm contract futex needs: the host address
// of a checked guest range (MM.HostAddr).
type hostAddrMemory interface {
	HostAddr(addr abi.Addr, n int, write bool) (uintptr, error)
}

// futexHostAddr translates a futex word address. The word must be 4-byte
// aligned (EINVAL) and mapped (EFAULT).
func (t *Task) futexHostAddr(addr abi.Addr, write bool) (uintptr, error) {
	if addr&3 != 0 {
		return 0, abi.EINVAL
	}
	hm, ok := t.Proc.Mem.(hostAddrMemory)
	if !ok {
		return 0, abi.ENOSYS
	}
	return hm.HostAddr(addr, 4, write)
}

// untimedSlice bounds one host wait of a guest wait without a timeout: the
// host wait needs a deadline to stay interruptible; it is renewed silently.
const untimedSlice = time.Hour

// Futex implements Linux syscall futex(2).
func Futex(t *Task, a *Args) (uint64, error) {
	uaddr, op, val := a.Addr(0), a.Int(1), a.Uint(2)
	uaddr2, val3 := a.Addr(4), a.Uint(5)
	cmd := op & abi.FUTEX_CMD_MASK
	flags := op & (abi.FUTEX_PRIVATE_FLAG | abi.FUTEX_CLOCK_REALTIME)
	if flags&abi.FUTEX_CLOCK_REALTIME != 0 && cmd != abi.FUTEX_WAIT && cmd != abi.FUTEX_WAIT_BITSET && cmd != abi.FUTEX_LOCK_PI2 {
		return 0, abi.ENOSYS
	}
	switch cmd {
	case abi.FUTEX_WAIT:
		return 0, t.futexWait(uaddr, flags, val, a.Addr(3), false, abi.FUTEX_BITSET_MATCH_ANY)
	case abi.FUTEX_WAIT_BITSET:
		if val3 == 0 {
			return 0, abi.EINVAL
		}
		return 0, t.futexWait(uaddr, flags, val, a.Addr(3), true, val3)
	case abi.FUTEX_WAKE, abi.FUTEX_WAKE_BITSET:
		if cmd == abi.FUTEX_WAKE_BITSET && val3 == 0 {
			return 0, abi.EINVAL
		}
		if cmd == abi.FUTEX_WAKE {
			val3 = abi.FUTEX_BITSET_MATCH_ANY
		}
		h, err := t.futexHostAddr(uaddr, false)
		if errors.Is(err, abi.EFAULT) && flags&abi.FUTEX_PRIVATE_FLAG != 0 {
			// Linux keys a private futex by address alone and never
			// reads the word to wake it: nobody can wait there.
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return hostFutexOp(h, abi.FUTEX_WAKE_BITSET|flags, val, 0, 0, val3)
	case abi.FUTEX_LOCK_PI, abi.FUTEX_LOCK_PI2:
		return 0, t.futexLockPI(uaddr, flags, a.Addr(3), piTimeoutClock(cmd, flags), false)
	case abi.FUTEX_TRYLOCK_PI:
		return 0, t.futexLockPI(uaddr, flags, 0, abi.CLOCK_REALTIME, true)
	case abi.FUTEX_UNLOCK_PI:
		return 0, t.futexUnlockPI(uaddr)
	case abi.FUTEX_REQUEUE, abi.FUTEX_CMP_REQUEUE, abi.FUTEX_WAKE_OP:
		// The fourth argument is a count here (val2), not a timeout.
		val2 := uint32(a[3])
		h, err := t.futexHostAddr(uaddr, false)
		if err != nil {
			return 0, err
		}
		h2, err := t.futexHostAddr(uaddr2, cmd == abi.FUTEX_WAKE_OP)
		if err != nil {
			return 0, err
		}
		return hostFutexOp(h, cmd|flags, val, val2, h2, val3)
	}
	return 0, abi.ENOSYS
}

// futexWait is the core of FUTEX_WAIT and FUTEX_WAIT_BITSET: block while the
// word at uaddr holds val, until woken (0), the value differs (EAGAIN), the
// timeout passes (ETIMEDOUT) or a guest signal interrupts (ERESTARTSYS for an
// untimed wait, which SA_RESTART restarts; EINTR for a timed one, as Linux
// reports after a handler). The timeout at tsAddr is relative for
// FUTEX_WAIT and absolute for FUTEX_WAIT_BITSET, on CLOCK_MONOTONIC or, with
// FUTEX_CLOCK_REALTIME, CLOCK_REALTIME.
func (t *Task) futexWait(uaddr abi.Addr, flags int32, val uint32, tsAddr abi.Addr, absTimeout bool, bitset uint32) error {
	clock := int32(abi.CLOCK_MONOTONIC)
	if flags&abi.FUTEX_CLOCK_REALTIME != 0 {
		clock = abi.CLOCK_REALTIME
	}
	timed := tsAddr != 0
	var deadline abi.Timespec
	if timed {
		ts, err := futexTimeout(t, tsAddr)
		if err != nil {
			return err
		}
		deadline = ts
		if !absTimeout {
			now, err := readClock(clock)
			if err != nil {
				return err
			}
			deadline = abi.NsecToTimespec(addSat(now.Nanoseconds(), ts.Nanoseconds()))
		}
	}
	h, err := t.futexHostAddr(uaddr, false)
	if err != nil {
		return err
	}
	for {
		d := deadline
		if !timed {
			if d, err = sliceDeadline(clock); err != nil {
				return err
			}
		}
		interrupted, err := t.hostWait(func() error {
			_, err := hostFutexWait(h, abi.FUTEX_WAIT_BITSET|flags, val, d, bitset)
			return err
		})
		switch {
		case interrupted && timed:
			return abi.EINTR
		case interrupted:
			return abi.ERESTARTSYS
		case err == unix.EINTR:
			// The Go runtime's own signal: report a spurious wake-up,
			// which every futex user tolerates, rather than re-wait and
			// risk missing a wake that came in between.
			return nil
		case err == unix.ETIMEDOUT && !timed:
			continue
		}
		return err
	}
}

// hostFutexOp runs a non-blocking host futex operation whose fourth argument
// is a count (val2), on host addresses.
func hostFutexOp(addr uintptr, op int32, val, val2 uint32, addr2 uintptr, val3 uint32) (uint64, error) {
	r, _, e := unix.Syscall6(unix.SYS_FUTEX, addr, uintptr(op), uintptr(val), uintptr(val2), addr2, uintptr(val3))
	if e != 0 {
		return 0, e
	}
	return uint64(r), nil
}

// futexTimeout reads a futex wait's timeout at tsAddr: EFAULT or EINVAL
// (a negative or unnormalised value) as Linux.
func futexTimeout(t *Task, tsAddr abi.Addr) (abi.Timespec, error) {
	ts, err := copyInTimespec(t, tsAddr)
	if err != nil {
		return abi.Timespec{}, err
	}
	if !ts.Valid() {
		return abi.Timespec{}, abi.EINVAL
	}
	return ts, nil
}

// sliceDeadline is when the host wait of an untimed futex wait ends on
// clock, so that the wait looks again (untimedSlice from now).
func sliceDeadline(clock int32) (abi.Timespec, error) {
	now, err := readClock(clock)
	if err != nil {
		return abi.Timespec{}, err
	}
	return abi.NsecToTimespec(addSat(now.Nanoseconds(), int64(untimedSlice))), nil
}
