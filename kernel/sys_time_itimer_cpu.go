package kernel

// ITIMER_VIRTUAL and ITIMER_PROF: interval timers of the process's own CPU
// time, user time for ITIMER_VIRTUAL (SIGVTALRM) and user plus system time
// for ITIMER_PROF (SIGPROF, what gprof's profil and profilers arm). The
// time is the process's own (cpu_usage.go: on hvf/ptrace the stub's
// included), so they need a UsageHost; without one they stay refused
// (EINVAL). A goroutine watches while one is armed, sleeping until the
// nearest expiry could come (the CPU time left over the host's CPUs, at
// least 1 ms); a signal is therefore late by up to a scheduling tick, and
// the stub's user time is counted in clock ticks. Neither timer survives
// fork (a fork child starts with a new Process); both survive exec.

import (
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

const (
	itimerVirtual = 1
	itimerProf    = 2
	// cpuPrecise asks cpuNow for user plus system time at the host's
	// best precision (POSIX CPU-time timers).
	cpuPrecise = 0
)

// cpuTimer is one armed CPU-time timer: it expires when the process's
// (user, for ITIMER_VIRTUAL) CPU time reaches deadline.
type cpuTimer struct {
	deadline time.Duration // 0: disarmed
	interval time.Duration
}

// cpuTimers are a process's two CPU-time timers and their watcher.
type cpuTimers struct {
	virt, prof cpuTimer
	// gen numbers the watchers; only the current one runs.
	gen uint64
}

// cpuTimerOf returns timer which of x. Preconditions: x.mu held.
func (x *procExtra) cpuTimerOf(which int32) *cpuTimer {
	if which == itimerVirtual {
		return &x.cpuT.virt
	}
	return &x.cpuT.prof
}

// cpuNow reads the clock timer which runs on.
func cpuNow(u UsageHost, which int32) (time.Duration, bool) {
	if which == cpuPrecise {
		return u.SelfCPU()
	}
	user, sys, ok := u.SelfUsage()
	if which == itimerVirtual {
		return user, ok
	}
	return user + sys, ok
}

// cpuTimerNow returns the usage host and the CPU time timer which runs
// on: EINVAL when the host cannot tell.
func (t *Task) cpuTimerNow(which int32) (UsageHost, time.Duration, error) {
	u, ok := t.usageHost()
	if !ok {
		return nil, 0, abi.EINVAL
	}
	now, ok := cpuNow(u, which)
	if !ok {
		return nil, 0, abi.EINVAL
	}
	return u, now, nil
}

// left is what getitimer shows of c at CPU time now.
func (c *cpuTimer) left(now time.Duration) (value, interval time.Duration) {
	if c.deadline == 0 {
		return 0, c.interval
	}
	return max(c.deadline-now, time.Microsecond), c.interval
}

// getCPUTimer is getitimer for ITIMER_VIRTUAL or ITIMER_PROF.
func (t *Task) getCPUTimer(which int32) (value, interval time.Duration, err error) {
	_, now, err := t.cpuTimerNow(which)
	if err != nil {
		return 0, 0, err
	}
	x := t.Proc.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	value, interval = x.cpuTimerOf(which).left(now)
	return value, interval, nil
}

// setCPUTimer is setitimer for ITIMER_VIRTUAL or ITIMER_PROF: value 0
// disarms. It returns the previous setting.
func (t *Task) setCPUTimer(which int32, value, interval time.Duration) (oldValue, oldInterval time.Duration, err error) {
	u, now, err := t.cpuTimerNow(which)
	if err != nil {
		return 0, 0, err
	}
	x := t.Proc.ext()
	x.mu.Lock()
	c := x.cpuTimerOf(which)
	oldValue, oldInterval = c.left(now)
	if value == 0 {
		*c = cpuTimer{}
	} else {
		*c = cpuTimer{deadline: now + value, interval: interval}
	}
	x.cpuT.gen++
	gen := x.cpuT.gen
	armed := x.cpuT.virt.deadline != 0 || x.cpuT.prof.deadline != 0
	x.mu.Unlock()
	if armed {
		go t.Proc.watchCPUTimers(gen, u)
	}
	return oldValue, oldInterval, nil
}

// watchCPUTimers delivers the expiries of the armed CPU-time timers while
// gen is the current watcher and the process runs.
func (p *Process) watchCPUTimers(gen uint64, u UsageHost) {
	x := p.ext()
	for {
		if exited, _ := p.Exited(); exited {
			return
		}
		user, sys, ok := u.SelfUsage()
		if !ok {
			return
		}
		var fire []int
		wait := time.Duration(1<<63 - 1)
		x.mu.Lock()
		if x.cpuT.gen != gen {
			x.mu.Unlock()
			return
		}
		for _, w := range []struct {
			c   *cpuTimer
			now time.Duration
			sig int
		}{{&x.cpuT.virt, user, abi.SIGVTALRM}, {&x.cpuT.prof, user + sys, abi.SIGPROF}} {
			c := w.c
			if c.deadline == 0 {
				continue
			}
			if w.now >= c.deadline {
				fire = append(fire, w.sig)
				if c.interval == 0 {
					c.deadline = 0
					continue
				}
				c.deadline += c.interval
				if c.deadline <= w.now {
					c.deadline = w.now + c.interval
				}
			}
			wait = min(wait, c.deadline-w.now)
		}
		armed := x.cpuT.virt.deadline != 0 || x.cpuT.prof.deadline != 0
		x.mu.Unlock()
		for _, sig := range fire {
			p.KillInfo(&abi.Siginfo{Signo: int32(sig), Code: abi.SI_KERNEL})
		}
		if !armed {
			return
		}
		sleepForCPU(wait, time.Millisecond) // rlimit_cpu.go
	}
}
