package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// I/O priorities are host thread attributes, like nice values: the calls
// about the caller run on the host for the calling vCPU thread.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_IOPRIO_GET: {Name: "ioprio_get", Fn: IoprioGet, Support: Partial,
			Note: "any guest process by pid (its vCPU host thread); only the own group or user"},
		abi.SYS_IOPRIO_SET: {Name: "ioprio_set", Fn: IoprioSet, Support: Partial,
			Note: "applied to the target's vCPU host thread; only the own group or user"},
	})
}

// ioprioTarget checks an ioprio target the way priorityTarget does.
func (t *Task) ioprioTarget(which, who int32) (int, error) {
	switch which {
	case abi.IOPRIO_WHO_PROCESS:
		return t.priorityTarget(abi.PRIO_PROCESS, who)
	case abi.IOPRIO_WHO_PGRP:
		return t.priorityTarget(abi.PRIO_PGRP, who)
	case abi.IOPRIO_WHO_USER:
		return t.priorityTarget(abi.PRIO_USER, who)
	}
	return 0, abi.EINVAL
}

// IoprioGet implements Linux syscall ioprio_get(2).
func IoprioGet(t *Task, a *Args) (uint64, error) {
	tid, err := t.ioprioTarget(a.Int(0), a.Int(1))
	if err != nil {
		return 0, err
	}
	r, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, abi.IOPRIO_WHO_PROCESS, uintptr(tid), 0)
	if e != 0 {
		return 0, e
	}
	return uint64(r), nil
}

// IoprioSet implements Linux syscall ioprio_set(2); the host checks the
// priority value and the privilege to raise it.
func IoprioSet(t *Task, a *Args) (uint64, error) {
	tid, err := t.ioprioTarget(a.Int(0), a.Int(1))
	if err != nil {
		return 0, err
	}
	_, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, abi.IOPRIO_WHO_PROCESS, uintptr(tid), uintptr(a.Int(2)))
	if e != 0 {
		return 0, e
	}
	return 0, nil
}
