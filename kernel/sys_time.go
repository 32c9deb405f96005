package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Clocks and sleeps. Guest time is host time: every clock reads the host's
// clock of the same id (CPU clocks read the guestproc's own CPU time, which
// includes the time its vCPU threads spend running guest code).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_CLOCK_GETTIME: {Name: "clock_gettime", Fn: ClockGettime, Support: Partial,
			Note: "CPU clocks of other processes and posix-clock descriptors: EINVAL"},
		abi.SYS_CLOCK_GETRES: {Name: "clock_getres", Fn: ClockGetres, Support: Partial,
			Note: "CPU clocks of other processes and posix-clock descriptors: EINVAL"},
		abi.SYS_CLOCK_NANOSLEEP: {Name: "clock_nanosleep", Fn: ClockNanosleep, Support: Partial,
			Note: "an interrupting signal always gives EINTR (no restart_syscall)"},
		abi.SYS_NANOSLEEP: {Name: "nanosleep", Fn: Nanosleep, Support: Partial,
			Note: "an interrupting signal always gives EINTR (no restart_syscall)"},
		abi.SYS_GETTIMEOFDAY: {Name: "gettimeofday", Fn: Gettimeofday},
		abi.SYS_TIME:         {Name: "time", Fn: Time},
		abi.SYS_CLOCK_SETTIME: {Name: "clock_settime", Fn: ClockSettime, Support: Stub,
			Note: "the guest may not set the host clock: EPERM as for an unprivileged caller"},
		abi.SYS_SETTIMEOFDAY: {Name: "settimeofday", Fn: Settimeofday, Support: Stub,
			Note: "the guest may not set the host clock: EPERM as for an unprivileged caller"},
	})
}

// hostClock validates a guest clock id and returns the host clock id that
// answers for it. Dynamic CPU clocks (negative ids) are accepted for the
// calling process or thread only.
func (t *Task) hostClock(clk int32) (int32, error) {
	if clk >= 0 {
		switch clk {
		case abi.CLOCK_REALTIME, abi.CLOCK_MONOTONIC, abi.CLOCK_PROCESS_CPUTIME_ID,
			abi.CLOCK_THREAD_CPUTIME_ID, abi.CLOCK_MONOTONIC_RAW, abi.CLOCK_REALTIME_COARSE,
			abi.CLOCK_MONOTONIC_COARSE, abi.CLOCK_BOOTTIME, abi.CLOCK_REALTIME_ALARM,
			abi.CLOCK_BOOTTIME_ALARM, abi.CLOCK_TAI:
			return clk, nil
		}
		return 0, abi.EINVAL
	}
	kind := clk & abi.CPUCLOCK_CLOCK_MASK
	if kind == abi.CLOCKFD {
		return 0, abi.EINVAL
	}
	pid := ^(clk >> 3)
	perThread := clk&abi.CPUCLOCK_PERTHREAD_MASK != 0
	switch {
	case pid == 0:
	case perThread && pid == t.Tid:
	case !perThread && pid == t.Proc.Kernel.Host.Pid():
	default:
		return 0, abi.EINVAL
	}
	// The same clock of the calling host thread or process (pid field 0).
	return ^int32(0)<<3 | clk&(abi.CPUCLOCK_PERTHREAD_MASK|abi.CPUCLOCK_CLOCK_MASK), nil
}

// readClock reads host clock hc.
func readClock(hc int32) (abi.Timespec, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(hc, &ts); err != nil {
		return abi.Timespec{}, err
	}
	return abi.Timespec{Sec: ts.Sec, Nsec: ts.Nsec}, nil
}

// ClockGettime implements Linux syscall clock_gettime(2).
func ClockGettime(t *Task, a *Args) (uint64, error) {
	hc, err := t.hostClock(a.Int(0))
	if err != nil {
		return 0, err
	}
	if ts, ok := t.selfCPUClock(cpuClockOf(hc)); ok { // cpu_usage.go
		return 0, copyOutTimespec(t, a.Addr(1), ts)
	}
	ts, err := readClock(hc)
	if err != nil {
		return 0, err
	}
	return 0, copyOutTimespec(t, a.Addr(1), ts)
}

// cpuClockOf names host clock hc as CLOCK_PROCESS_CPUTIME_ID or
// CLOCK_THREAD_CPUTIME_ID when it is the caller's own (the fixed ids, or
// the dynamic CPUCLOCK_SCHED ones hostClock turns them into); else it
// returns hc.
func cpuClockOf(hc int32) int32 {
	switch hc {
	case ^int32(0)<<3 | abi.CPUCLOCK_SCHED:
		return abi.CLOCK_PROCESS_CPUTIME_ID
	case ^int32(0)<<3 | abi.CPUCLOCK_SCHED | abi.CPUCLOCK_PERTHREAD_MASK:
		return abi.CLOCK_THREAD_CPUTIME_ID
	}
	return hc
}

// ClockGetres implements Linux syscall clock_getres(2).
func ClockGetres(t *Task, a *Args) (uint64, error) {
	hc, err := t.hostClock(a.Int(0))
	if err != nil {
		return 0, err
	}
	var ts unix.Timespec
	if err := unix.ClockGetres(hc, &ts); err != nil {
		return 0, err
	}
	if a.Addr(1) == 0 {
		return 0, nil
	}
	return 0, copyOutTimespec(t, a.Addr(1), abi.Timespec{Sec: ts.Sec, Nsec: ts.Nsec})
}

// Gettimeofday implements Linux syscall gettimeofday(2).
func Gettimeofday(t *Task, a *Args) (uint64, error) {
	if tv := a.Addr(0); tv != 0 {
		ts, err := readClock(abi.CLOCK_REALTIME)
		if err != nil {
			return 0, err
		}
		if _, err := t.CopyOut(tv, abi.Timeval{Sec: ts.Sec, Usec: ts.Nsec / 1000}.Bytes()); err != nil {
			return 0, err
		}
	}
	if tz := a.Addr(1); tz != 0 {
		z, err := hostTimezone()
		if err != nil {
			return 0, err
		}
		if err := copyOutABI(t, tz, &z); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Time implements Linux syscall time(2).
func Time(t *Task, a *Args) (uint64, error) {
	ts, err := readClock(abi.CLOCK_REALTIME)
	if err != nil {
		return 0, err
	}
	if p := a.Addr(0); p != 0 {
		if err := copyOutU64(t, p, uint64(ts.Sec)); err != nil {
			return 0, err
		}
	}
	return uint64(ts.Sec), nil
}

// ClockSettime implements Linux syscall clock_settime(2): the host clock is
// not the guest's to set.
func ClockSettime(t *Task, a *Args) (uint64, error) {
	if _, err := t.hostClock(a.Int(0)); err != nil {
		return 0, err
	}
	return 0, abi.EPERM
}

// Settimeofday implements Linux syscall settimeofday(2) (see ClockSettime).
func Settimeofday(t *Task, a *Args) (uint64, error) { return 0, abi.EPERM }

// Nanosleep implements Linux syscall nanosleep(2).
func Nanosleep(t *Task, a *Args) (uint64, error) {
	return 0, t.sleep(abi.CLOCK_MONOTONIC, false, a.Addr(0), a.Addr(1))
}

// ClockNanosleep implements Linux syscall clock_nanosleep(2).
func ClockNanosleep(t *Task, a *Args) (uint64, error) {
	clk := a.Int(0)
	// Linux cannot sleep on a thread's CPU clock.
	if clk == abi.CLOCK_THREAD_CPUTIME_ID || (clk < 0 && clk&abi.CPUCLOCK_PERTHREAD_MASK != 0) {
		return 0, abi.EINVAL
	}
	hc, err := t.hostClock(clk)
	if err != nil {
		return 0, err
	}
	abs := a.Int(1)&abi.TIMER_ABSTIME != 0
	if cpuClockOf(hc) == abi.CLOCK_PROCESS_CPUTIME_ID {
		if u, ok := t.usageHost(); ok {
			return 0, t.sleepCPU(u, abs, a.Addr(2), a.Addr(3)) // cpu_usage.go
		}
	}
	return 0, t.sleep(hc, abs, a.Addr(2), a.Addr(3))
}

// sleep is the core of nanosleep and clock_nanosleep: a real host sleep on
// clock hc until the request (absolute or relative) is reached. When a guest
// signal interrupts it, the time left of a relative request is written to
// remAddr (if not 0) and the result is EINTR.
func (t *Task) sleep(hc int32, abs bool, reqAddr, remAddr abi.Addr) error {
	req, err := copyInTimespec(t, reqAddr)
	if err != nil {
		return err
	}
	if !req.Valid() {
		return abi.EINVAL
	}
	deadline := req
	if !abs {
		now, err := readClock(hc)
		if err != nil {
			return err
		}
		deadline = abi.NsecToTimespec(addSat(now.Nanoseconds(), req.Nanoseconds()))
	}
	hd := unix.Timespec{Sec: deadline.Sec, Nsec: deadline.Nsec}
	for {
		interrupted, err := t.hostWait(func() error {
			return unix.ClockNanosleep(hc, unix.TIMER_ABSTIME, &hd, nil)
		})
		switch {
		case interrupted:
			if !abs && remAddr != 0 {
				now, err := readClock(hc)
				if err != nil {
					return err
				}
				left := max(deadline.Nanoseconds()-now.Nanoseconds(), 0)
				if err := copyOutTimespec(t, remAddr, abi.NsecToTimespec(left)); err != nil {
					return err
				}
			}
			return abi.EINTR
		case err == unix.EINTR:
			continue // the Go runtime's own signal: sleep on to the same deadline
		default:
			return err
		}
	}
}

// addSat returns a+b for non-negative a and b, saturating at the int64 limit.
func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}
