package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Robust futexes. When a thread exits, Linux walks the robust list it
// registered with set_robust_list and marks every futex the thread still
// owns FUTEX_OWNER_DIED, waking one waiter, so that a process-shared robust
// mutex held by a dead process can be recovered (EOWNERDEAD). The list lives
// in guest memory:
//
//	struct robust_list_head {
//		struct robust_list list;   // next pointer; the list is circular
//		long futex_offset;         // from an entry to its futex word
//		struct robust_list *list_op_pending;
//	};
//
// Entry pointers carry the PI flag in bit 0. Faults end the walk silently.

// exitRobustList releases the robust futexes the task still holds, then
// hands on the PI futexes it owns that others wait for (Linux's
// exit_robust_list, then exit_pi_state_list).
func (t *Task) exitRobustList() {
	t.walkRobustList()
	t.exitPIStates()
}

// walkRobustList marks the robust futexes the task still holds.
func (t *Task) walkRobustList() {
	head := t.RobustList
	if head == 0 {
		return
	}
	var hb [abi.SizeofRobustListHead]byte
	if _, err := t.CopyIn(head, hb[:]); err != nil {
		return
	}
	next := abi.Addr(binary.LittleEndian.Uint64(hb[0:]))
	offset := int64(binary.LittleEndian.Uint64(hb[8:]))
	pendingRaw := abi.Addr(binary.LittleEndian.Uint64(hb[16:]))
	pending, pendingPI := pendingRaw&^1, pendingRaw&1 != 0

	entry, pi := next&^1, next&1 != 0
	for limit := abi.ROBUST_LIST_LIMIT; entry != head && limit > 0; limit-- {
		var nb [8]byte
		if _, err := t.CopyIn(entry, nb[:]); err != nil {
			return
		}
		raw := abi.Addr(binary.LittleEndian.Uint64(nb[:]))
		if entry != pending {
			t.futexDeath(entry+abi.Addr(offset), pi, false)
		}
		entry, pi = raw&^1, raw&1 != 0
	}
	if pending != 0 {
		t.futexDeath(pending+abi.Addr(offset), pendingPI, true)
	}
}

// futexDeath is Linux's handle_futex_death for one futex word: if the task
// owns it, set FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and wake a waiter.
// pendingOp says the entry was list_op_pending, the lock the thread was in
// the middle of taking or releasing.
func (t *Task) futexDeath(uaddr abi.Addr, pi, pendingOp bool) {
	h, err := t.futexHostAddr(uaddr, true)
	if err != nil {
		return
	}
	word, err := t.Slice(uaddr, 4, true)
	if err != nil {
		return
	}
	for {
		uval := atomicLoad32(word)
		owner := uval & abi.FUTEX_TID_MASK
		if pendingOp && !pi && owner == 0 {
			// The lock was released but the wake may not have happened.
			_, _ = hostFutexOp(h, abi.FUTEX_WAKE, 1, 0, 0, 0)
			return
		}
		if owner != uint32(t.Tid) {
			return
		}
		nval := uval&abi.FUTEX_WAITERS | abi.FUTEX_OWNER_DIED
		if !atomicCAS32(word, uval, nval) {
			continue
		}
		switch {
		case !pi && uval&abi.FUTEX_WAITERS != 0:
			_, _ = hostFutexOp(h, abi.FUTEX_WAKE, 1, 0, 0, 0)
		case pi && uval&abi.FUTEX_WAITERS != 0 && !piQueued(h):
			// Waiters in other processes take it themselves;
			// exitPIStates hands it to one of this process.
			piWakeAll(h)
		}
		return
	}
}
