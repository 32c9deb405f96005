package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// hostTarget maps the pid of a scheduling, priority or I/O-priority call
// to the host thread the call acts on, as a host tid (0: the calling
// thread, which runs the caller's vCPU):
//   - 0, the caller's tid, or its process's pid: the calling thread;
//   - another thread of the process: the host thread running its vCPU;
//   - another guest process: its guestproc's first thread, which runs
//     that process's first vCPU (the host pid the supervisor knows);
//   - anything else: ESRCH.
//
// Like the caller's own, another process's settings are its vCPU thread's
// on the host, and the host applies its permission rules (same user).
func (t *Task) hostTarget(pid int32) (int, error) {
	if pid == 0 || pid == t.Tid {
		return 0, nil
	}
	if sib := t.Proc.taskByTid(pid); sib != nil {
		if h := sib.hostTid.Load(); h != 0 {
			return int(h), nil
		}
		return 0, abi.ESRCH // not running yet
	}
	k := t.Proc.Kernel
	if k == nil || k.Host == nil {
		return 0, abi.ESRCH
	}
	if pid == k.Host.Pid() {
		return 0, nil
	}
	if pm, ok := k.Host.(PidMapper); ok {
		if h, err := pm.HostPidOf(pid); err == nil && h > 0 {
			return int(h), nil
		}
	}
	return 0, abi.ESRCH
}

// noteHostThread records the host thread that runs t's vCPU.
func (t *Task) noteHostThread() {
	t.hostTid.Store(int32(unix.Gettid()))
}
