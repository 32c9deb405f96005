package kernel

import (
	"math/bits"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Scheduling. Every guest thread is a host thread (the vCPU's locked OS
// thread), so scheduling calls about the caller are applied to that host
// thread and answered by the host kernel: sched_getaffinity reports the
// host's mask, which keeps nproc equal to its native answer.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_SCHED_YIELD: {Name: "sched_yield", Fn: SchedYield},
		abi.SYS_SCHED_GETAFFINITY: {Name: "sched_getaffinity", Fn: SchedGetaffinity, Support: Partial,
			Note: "any guest process or thread: its vCPU host thread"},
		abi.SYS_SCHED_SETAFFINITY: {Name: "sched_setaffinity", Fn: SchedSetaffinity, Support: Partial,
			Note: "applied to the target's vCPU host thread (host permission rules)"},
		abi.SYS_SCHED_GETSCHEDULER: {Name: "sched_getscheduler", Fn: SchedGetscheduler, Support: Partial,
			Note: "any guest process or thread: its vCPU host thread"},
		abi.SYS_SCHED_SETSCHEDULER: {Name: "sched_setscheduler", Fn: SchedSetscheduler, Support: Partial,
			Note: "applied to the target's vCPU host thread (host permission rules)"},
		abi.SYS_SCHED_GETPARAM: {Name: "sched_getparam", Fn: SchedGetparam, Support: Partial,
			Note: "any guest process or thread: its vCPU host thread"},
		abi.SYS_SCHED_SETPARAM: {Name: "sched_setparam", Fn: SchedSetparam, Support: Partial,
			Note: "applied to the target's vCPU host thread (host permission rules)"},
		abi.SYS_SCHED_GET_PRIORITY_MAX: {Name: "sched_get_priority_max", Fn: SchedGetPriorityMax},
		abi.SYS_SCHED_GET_PRIORITY_MIN: {Name: "sched_get_priority_min", Fn: SchedGetPriorityMin},
		abi.SYS_SCHED_RR_GET_INTERVAL: {Name: "sched_rr_get_interval", Fn: SchedRRGetInterval, Support: Partial,
			Note: "any guest process or thread: its vCPU host thread"},
		abi.SYS_GETCPU: {Name: "getcpu", Fn: Getcpu, Support: Partial,
			Note: "node 0 and the lowest CPU of the affinity mask (CPU 0 normally): a vCPU thread may migrate at any exit"},
	})
}

// maxCPUMaskBytes bounds the affinity buffers the kernel allocates
// (a 256Ki-CPU mask, beyond any real host).
const maxCPUMaskBytes = 32 << 10

var (
	cpuMaskOnce sync.Once
	cpuMaskSize int
)

// hostCPUMaskSize returns the host kernel's cpumask_size(): the bytes
// sched_getaffinity reports.
func hostCPUMaskSize() int {
	cpuMaskOnce.Do(func() {
		cpuMaskSize = maxCPUMaskBytes
		if n, err := hostSchedGetaffinity(0, make([]byte, maxCPUMaskBytes)); err == nil {
			cpuMaskSize = n
		}
	})
	return cpuMaskSize
}

// schedTarget maps a scheduling call's pid to the host thread it acts on
// (hostTarget, sys_sys_target.go).
func (t *Task) schedTarget(pid int32) (int, error) {
	if pid < 0 {
		return 0, abi.EINVAL
	}
	return t.hostTarget(pid)
}

// SchedYield implements Linux syscall sched_yield(2).
func SchedYield(t *Task, a *Args) (uint64, error) {
	_, _, e := unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return 0, nil
}

// SchedGetaffinity implements Linux syscall sched_getaffinity(2). It returns
// the byte count the host kernel returns (the size of its CPU mask).
func SchedGetaffinity(t *Task, a *Args) (uint64, error) {
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	size := a.Uint(1) // Linux takes an unsigned int length
	if size%8 != 0 {
		return 0, abi.EINVAL // not a whole number of longs
	}
	// The host checks the length against its CPU count (EINVAL when too
	// short); cap what we allocate, keeping the alignment. Only the
	// host's mask size is copied out, as Linux does.
	buf := make([]byte, min(size, maxCPUMaskBytes))
	n, err := hostSchedGetaffinity(tid, buf)
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(a.Addr(2), buf[:n]); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// SchedSetaffinity implements Linux syscall sched_setaffinity(2).
func SchedSetaffinity(t *Task, a *Args) (uint64, error) {
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	// Linux reads at most its own mask size and zero-fills a shorter mask.
	buf := make([]byte, min(int(a.Uint(1)), hostCPUMaskSize()))
	if _, err := t.CopyIn(a.Addr(2), buf); err != nil {
		return 0, err
	}
	return 0, hostSchedSetaffinity(tid, buf)
}

// SchedGetscheduler implements Linux syscall sched_getscheduler(2).
func SchedGetscheduler(t *Task, a *Args) (uint64, error) {
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	r, _, e := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if e != 0 {
		return 0, e
	}
	return uint64(r), nil
}

// SchedGetparam implements Linux syscall sched_getparam(2).
func SchedGetparam(t *Task, a *Args) (uint64, error) {
	if a.Addr(1) == 0 {
		return 0, abi.EINVAL
	}
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	sp, err := hostSchedGetparam(tid)
	if err != nil {
		return 0, err
	}
	return 0, copyOutU32(t, a.Addr(1), uint32(sp.Priority))
}

// setScheduler is the core of sched_setscheduler and sched_setparam
// (policy -1: keep the policy).
func (t *Task) setScheduler(pid, policy int32, param abi.Addr) error {
	if param == 0 || pid < 0 {
		return abi.EINVAL
	}
	prio, err := copyInU32(t, param)
	if err != nil {
		return err
	}
	tid, err := t.schedTarget(pid)
	if err != nil {
		return err
	}
	return hostSchedSetscheduler(tid, policy, abi.SchedParam{Priority: int32(prio)})
}

// SchedSetscheduler implements Linux syscall sched_setscheduler(2).
func SchedSetscheduler(t *Task, a *Args) (uint64, error) {
	if a.Int(1) < 0 {
		return 0, abi.EINVAL
	}
	return 0, t.setScheduler(a.Int(0), a.Int(1), a.Addr(2))
}

// SchedSetparam implements Linux syscall sched_setparam(2).
func SchedSetparam(t *Task, a *Args) (uint64, error) {
	return 0, t.setScheduler(a.Int(0), -1, a.Addr(1))
}

// SchedGetPriorityMax implements Linux syscall sched_get_priority_max(2).
func SchedGetPriorityMax(t *Task, a *Args) (uint64, error) {
	switch a.Int(0) {
	case abi.SCHED_FIFO, abi.SCHED_RR:
		return abi.MAX_RT_PRIO - 1, nil
	case abi.SCHED_OTHER, abi.SCHED_BATCH, abi.SCHED_IDLE, abi.SCHED_DEADLINE:
		return 0, nil
	}
	return 0, abi.EINVAL
}

// SchedGetPriorityMin implements Linux syscall sched_get_priority_min(2).
func SchedGetPriorityMin(t *Task, a *Args) (uint64, error) {
	switch a.Int(0) {
	case abi.SCHED_FIFO, abi.SCHED_RR:
		return 1, nil
	case abi.SCHED_OTHER, abi.SCHED_BATCH, abi.SCHED_IDLE, abi.SCHED_DEADLINE:
		return 0, nil
	}
	return 0, abi.EINVAL
}

// SchedRRGetInterval implements Linux syscall sched_rr_get_interval(2).
func SchedRRGetInterval(t *Task, a *Args) (uint64, error) {
	tid, err := t.schedTarget(a.Int(0))
	if err != nil {
		return 0, err
	}
	ts, err := hostSchedRRGetInterval(tid)
	if err != nil {
		return 0, err
	}
	return 0, copyOutTimespec(t, a.Addr(1), ts)
}

// Getcpu implements Linux syscall getcpu(2). It reports node 0 and the
// lowest CPU the calling thread may run on, which is CPU 0 unless the
// affinity excludes it: the host thread behind a vCPU may migrate at any
// exit, so the CPU it happens to be on would be no more true, and a stable
// answer keeps per-CPU caches (sched_getcpu users) on one slot while still
// naming a CPU inside the affinity mask.
func Getcpu(t *Task, a *Args) (uint64, error) {
	if p := a.Addr(0); p != 0 {
		if err := copyOutU32(t, p, lowestAllowedCPU()); err != nil {
			return 0, err
		}
	}
	if p := a.Addr(1); p != 0 {
		if err := copyOutU32(t, p, 0); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// lowestAllowedCPU returns the lowest CPU in the calling thread's affinity
// mask (0 if it cannot be read).
func lowestAllowedCPU() uint32 {
	buf := make([]byte, hostCPUMaskSize())
	n, err := hostSchedGetaffinity(0, buf)
	if err != nil {
		return 0
	}
	for i, b := range buf[:n] {
		if b != 0 {
			return uint32(8*i + bits.TrailingZeros8(b))
		}
	}
	return 0
}
