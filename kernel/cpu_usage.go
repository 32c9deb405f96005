package kernel

// The process's own CPU time. On KVM guest code runs on the guestproc's
// vCPU threads, so the host's RUSAGE_SELF and CPU clocks of the guestproc
// hold it; on hvf/ptrace it runs in a stub process, whose time the
// guestproc's clocks never see (a busy loop read 0.01 s of CPU after
// 0.5 s). And a recycled guestproc's host clocks include the processes it
// ran before. A Host that can tell (UsageHost, guestproc's) answers
// getrusage(RUSAGE_SELF), times() and the process CPU clock from the
// process's own share: the guestproc's time since the process began, the
// stubs it reaped since, and the running stub's since the process began.
// The thread clock and RUSAGE_THREAD of an unthreaded process are the
// same; a threaded process's stay the host thread's.

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// UsageHost is the optional part of a Host that knows the running
// process's own CPU time.
type UsageHost interface {
	// SelfUsage returns the process's user and system time (the stub's
	// part at clock-tick precision).
	SelfUsage() (user, sys time.Duration, ok bool)
	// SelfCPU returns their sum at the host's best precision.
	SelfCPU() (time.Duration, bool)
}

// Machine returns the Machine of the process's address space (nil when it
// has none).
func (p *Process) Machine() hvf.Machine {
	if p.MM == nil {
		return nil
	}
	p.MM.mu.RLock()
	defer p.MM.mu.RUnlock()
	return p.MM.machine
}

// usageHost returns the kernel's UsageHost, if its Host is one.
func (t *Task) usageHost() (UsageHost, bool) {
	if t.Proc.Kernel == nil || t.Proc.Kernel.Host == nil {
		return nil, false
	}
	u, ok := t.Proc.Kernel.Host.(UsageHost)
	return u, ok
}

// selfUsage is the process's user and system time, when the host tells.
func (t *Task) selfUsage() (user, sys time.Duration, ok bool) {
	if u, ok := t.usageHost(); ok {
		return u.SelfUsage()
	}
	return 0, 0, false
}

// selfCPUClock answers a read of the process CPU clock (or, unthreaded,
// the thread clock) when the host tells: ok false leaves it to the host's
// clock.
func (t *Task) selfCPUClock(clk int32) (abi.Timespec, bool) {
	process := clk == abi.CLOCK_PROCESS_CPUTIME_ID ||
		(clk == abi.CLOCK_THREAD_CPUTIME_ID && !t.Proc.threaded())
	if !process {
		return abi.Timespec{}, false
	}
	u, ok := t.usageHost()
	if !ok {
		return abi.Timespec{}, false
	}
	d, ok := u.SelfCPU()
	if !ok {
		return abi.Timespec{}, false
	}
	return abi.Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}, true
}

// durationTimeval converts a duration to a timeval.
func durationTimeval(d time.Duration) abi.Timeval {
	us := d.Microseconds()
	return abi.Timeval{Sec: us / 1e6, Usec: us % 1e6}
}

// ownTimes puts the process's own user and system time into ru, when the
// host tells.
func (t *Task) ownTimes(ru *abi.Rusage) {
	if user, sys, ok := t.selfUsage(); ok {
		ru.Utime, ru.Stime = durationTimeval(user), durationTimeval(sys)
	}
}

// sleepCPU is clock_nanosleep on the process CPU clock: the host's clock
// of the guestproc is not the process's (on hvf/ptrace guest code runs in
// the stub, and the Go runtime's threads would wake the sleeper), so the
// sleep polls the process's own CPU time, waking as seldom as the CPU
// time left over the host's CPUs allows (at most every second). A guest
// signal interrupts it like any sleep (EINTR, the CPU time left in rem
// for a relative request).
func (t *Task) sleepCPU(u UsageHost, abs bool, reqAddr, remAddr abi.Addr) error {
	req, err := copyInTimespec(t, reqAddr)
	if err != nil {
		return err
	}
	if !req.Valid() {
		return abi.EINVAL
	}
	now, ok := u.SelfCPU()
	if !ok {
		return abi.EINVAL
	}
	deadline := time.Duration(req.Nanoseconds())
	if !abs {
		deadline = now + deadline
	}
	for now < deadline {
		step := min(max((deadline-now)/time.Duration(runtime.NumCPU()), time.Millisecond), time.Second)
		ts := unix.NsecToTimespec(int64(step))
		interrupted, err := t.hostWait(func() error { return unix.Nanosleep(&ts, nil) })
		if interrupted {
			if !abs && remAddr != 0 {
				now, _ = u.SelfCPU()
				if err := copyOutTimespec(t, remAddr, abi.NsecToTimespec(int64(max(deadline-now, 0)))); err != nil {
					return err
				}
			}
			return abi.EINTR
		}
		if err != nil && err != unix.EINTR {
			return err
		}
		if now, ok = u.SelfCPU(); !ok {
			return abi.EINVAL
		}
	}
	return nil
}
