package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// sched_getattr and sched_setattr, as the other scheduling calls: on the
// target's vCPU host thread (schedTarget), answered by the host kernel,
// which validates the struct sched_attr and its size. The guest's struct
// is copied through a host buffer of the size the guest gave.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_SCHED_GETATTR: {Name: "sched_getattr", Fn: SchedGetattr, Support: Partial,
			Note: "any guest process or thread: its vCPU host thread"},
		abi.SYS_SCHED_SETATTR: {Name: "sched_setattr", Fn: SchedSetattr, Support: Partial,
			Note: "applied to the target's vCPU host thread (host permission rules)"},
	})
}

// schedAttrSizeVer0 is SCHED_ATTR_SIZE_VER0, the first struct sched_attr.
const schedAttrSizeVer0 = 48

// SchedGetattr implements Linux syscall sched_getattr(2).
func SchedGetattr(t *Task, a *Args) (uint64, error) {
	addr, size, flags := a.Addr(1), a.Uint(2), a.Uint(3)
	if addr == 0 || size < schedAttrSizeVer0 || size > abi.PageSize || flags != 0 {
		return 0, abi.EINVAL
	}
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	buf := make([]byte, size)
	if err := hostSchedGetattr(tid, buf); err != nil {
		return 0, err
	}
	_, err = t.CopyOut(addr, buf)
	return 0, err
}

// SchedSetattr implements Linux syscall sched_setattr(2).
func SchedSetattr(t *Task, a *Args) (uint64, error) {
	addr, flags := a.Addr(1), a.Uint(2)
	if addr == 0 || a.Int(0) < 0 {
		return 0, abi.EINVAL
	}
	var head [4]byte
	if _, err := t.CopyIn(addr, head[:]); err != nil {
		return 0, err
	}
	size := binary.LittleEndian.Uint32(head[:])
	if size == 0 {
		size = schedAttrSizeVer0
	}
	if size < schedAttrSizeVer0 || size > abi.PageSize {
		// Linux writes the size it knows back before refusing.
		binary.LittleEndian.PutUint32(head[:], schedAttrSizeVer0+8)
		t.CopyOut(addr, head[:])
		return 0, abi.E2BIG
	}
	buf := make([]byte, size)
	if _, err := t.CopyIn(addr, buf); err != nil {
		return 0, err
	}
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	if err := hostSchedSetattr(tid, buf, flags); err != nil {
		if err == unix.E2BIG {
			t.CopyOut(addr, buf[:4]) // the size the host knows
		}
		return 0, err
	}
	return 0, nil
}
