package kernel

// A fork child inherits its parent's scheduling attributes (nice value,
// CPU affinity, I/O priority, policy) as on Linux. They live on the host
// thread that runs the vCPU (sys_sys_sched.go), and a fork child runs on
// another host thread: a warm spare's, or a recycled one's that still
// carries what its last process set. So the parent's are read into the
// fork image and the child sets them on its own vCPU thread.

import (
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// SchedAttrs are the calling host thread's scheduling attributes.
type SchedAttrs struct {
	Nice     int // getpriority's raw value: 20 - nice
	Affinity []byte
	Policy   int32
	Priority int32
	Ioprio   int
}

// readSchedAttrs reads the calling thread's attributes (best effort: what
// cannot be read is left zero and not set in the child).
func readSchedAttrs() *SchedAttrs {
	a := &SchedAttrs{}
	a.Nice, _ = unix.Getpriority(unix.PRIO_PROCESS, 0)
	buf := make([]byte, hostCPUMaskSize())
	if n, err := hostSchedGetaffinity(0, buf); err == nil {
		a.Affinity = buf[:n]
	}
	if r, _, e := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, 0, 0, 0); e == 0 {
		a.Policy = int32(r)
		if sp, err := hostSchedGetparam(0); err == nil {
			a.Priority = sp.Priority
		}
	}
	if r, _, e := unix.RawSyscall(unix.SYS_IOPRIO_GET, abi.IOPRIO_WHO_PROCESS, 0, 0); e == 0 {
		a.Ioprio = int(r)
	}
	return a
}

// apply sets a on the calling thread. Failures (lowering the nice value
// or an RT policy without the privilege) leave the thread's own value.
func (a *SchedAttrs) apply() {
	if a == nil {
		return
	}
	if a.Nice > 0 {
		if cur, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil && cur != a.Nice {
			unix.Setpriority(unix.PRIO_PROCESS, 0, 20-a.Nice)
		}
	}
	if len(a.Affinity) > 0 {
		hostSchedSetaffinity(0, a.Affinity)
	}
	if cur, _, e := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, 0, 0, 0); e == 0 && (int32(cur) != a.Policy || a.Priority != 0) {
		hostSchedSetscheduler(0, a.Policy, abi.SchedParam{Priority: a.Priority})
	}
	if cur, _, e := unix.RawSyscall(unix.SYS_IOPRIO_GET, abi.IOPRIO_WHO_PROCESS, 0, 0); e == 0 && int(cur) != a.Ioprio {
		unix.RawSyscall(unix.SYS_IOPRIO_SET, abi.IOPRIO_WHO_PROCESS, 0, uintptr(a.Ioprio))
	}
}
