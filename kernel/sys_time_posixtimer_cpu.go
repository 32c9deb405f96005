package kernel

import (
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// POSIX timers on the process's CPU-time clock (CLOCK_PROCESS_CPUTIME_ID:
// "after this much CPU", what benchmark harnesses and profilers arm). As
// for ITIMER_PROF (sys_time_itimer_cpu.go) the time is the process's own
// (UsageHost.SelfCPU: on hvf/ptrace the stub's included), and a goroutine
// watches it while the timer is armed, sleeping until the expiry could
// come (the CPU time left over the host's CPUs, at least 1 ms): a signal
// may come a scheduling tick late. Expiries go out as expireTimer's do,
// one queued signal at a time with the overruns counted.

// cpuTimer returns timer id when it is a CPU-time timer.
func (ts *posixTimers) cpuTimer(id int32) (*posixTimer, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt := ts.timers[id]
	return pt, pt != nil && pt.cpu
}

// processCPU returns the usage host and the process's CPU time now at
// the host's best precision: EINVAL when the host cannot tell.
func (t *Task) processCPU() (UsageHost, time.Duration, error) {
	return t.cpuTimerNow(cpuPrecise) // sys_time_itimer_cpu.go
}

// cpuLeftLocked is what timer_gettime shows of pt at CPU time now.
func (pt *posixTimer) cpuLeftLocked(now time.Duration) (value, interval time.Duration) {
	if pt.cpuDeadline == 0 {
		return 0, pt.interval
	}
	return max(pt.cpuDeadline-now, 1), pt.interval // expiring now: still armed
}

// settimeCPU is timer_settime of CPU-time timer pt.
func (t *Task) settimeCPU(pt *posixTimer, a *Args) (uint64, error) {
	id, flags, newp, oldp := a.Int(0), a.Int(1), a.Addr(2), a.Addr(3)
	value, interval, err := t.copyInItimerspec(newp)
	if err != nil {
		return 0, err
	}
	u, now, err := t.processCPU()
	if err != nil {
		return 0, err
	}
	p := t.Proc
	ts := p.posixTimers()
	ts.mu.Lock()
	if ts.timers[id] != pt {
		ts.mu.Unlock()
		return 0, abi.EINVAL
	}
	oldValue, oldInterval := pt.cpuLeftLocked(now)
	pt.disarmLocked()
	ts.mu.Unlock()
	p.dropTimerSignal(id) // the old setting's pending signal goes first
	ts.mu.Lock()
	if ts.timers[id] != pt {
		ts.mu.Unlock()
		return 0, abi.EINVAL
	}
	pt.disarmLocked()
	pt.overrun = 0
	pt.interval = interval
	if value != 0 { // a zero it_value disarms
		if flags&timerAbstime == 0 {
			value += now
		}
		pt.cpuDeadline = max(value, 1)
		go p.watchPosixCPUTimer(id, pt.gen, u)
	}
	ts.mu.Unlock()
	if oldp != 0 {
		if _, err := t.CopyOut(oldp, itimerspecBytes(timerSpec(oldValue, oldInterval))); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// gettimeCPU is timer_gettime of CPU-time timer pt.
func (t *Task) gettimeCPU(pt *posixTimer, a *Args) (uint64, error) {
	_, now, err := t.processCPU()
	if err != nil {
		return 0, err
	}
	ts := t.Proc.posixTimers()
	ts.mu.Lock()
	value, interval := pt.cpuLeftLocked(now)
	ts.mu.Unlock()
	_, err = t.CopyOut(a.Addr(1), itimerspecBytes(timerSpec(value, interval)))
	return 0, err
}

// watchPosixCPUTimer delivers the expiries of CPU-time timer id while gen
// is its setting and the process runs.
func (p *Process) watchPosixCPUTimer(id int32, gen uint64, u UsageHost) {
	ts := p.posixTimers()
	for {
		if exited, _ := p.Exited(); exited {
			return
		}
		now, ok := u.SelfCPU()
		if !ok {
			return
		}
		ts.mu.Lock()
		pt := ts.timers[id]
		if pt == nil || pt.gen != gen || pt.cpuDeadline == 0 {
			ts.mu.Unlock()
			return
		}
		if now < pt.cpuDeadline {
			wait := pt.cpuDeadline - now
			ts.mu.Unlock()
			sleepForCPU(wait, time.Millisecond) // rlimit_cpu.go
			continue
		}
		missed := int32(0)
		if pt.interval > 0 {
			pt.cpuDeadline += pt.interval
			for pt.cpuDeadline <= now && missed < delaytimerMax { // missed periods are overruns
				pt.cpuDeadline += pt.interval
				missed++
			}
		} else {
			pt.cpuDeadline = 0
		}
		info, tid, send := pt.signalLocked(missed)
		periodic := pt.interval > 0
		ts.mu.Unlock()
		if send {
			p.deliverTimerSignal(info, tid)
		}
		if !periodic {
			return
		}
	}
}
