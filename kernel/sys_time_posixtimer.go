package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// POSIX per-process timers (timer_create and friends). Each timer is a Go
// timer, like ITIMER_REAL, that queues its signal for the process through
// Process.KillInfo with Linux's SI_TIMER siginfo (si_timerid, si_overrun,
// si_value). As on Linux, a timer has at most one signal queued: an
// expiry while the previous one is still pending only counts an overrun
// in that queued siginfo; timer_getoverrun reports the count of the last
// one taken. Re-arming, disarming or deleting a timer drops its pending
// signal, as Linux does since 6.13. Timers are
// not inherited by fork (the child starts with none) and exec deletes
// them.
//
// Clocks: CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, their _ALARM
// variants and CLOCK_TAI run on the host's time. An absolute CLOCK_REALTIME
// deadline is converted to a delay when armed, so a later change of the
// host's wall clock does not move it. CLOCK_PROCESS_CPUTIME_ID runs on
// the process's own CPU time, watched by a goroutine
// (sys_time_posixtimer_cpu.go); a thread's CPU clock is not supported
// (EINVAL).

func init() {
	const partial = "CLOCK_REALTIME/MONOTONIC/BOOTTIME(_ALARM)/TAI/PROCESS_CPUTIME_ID; SIGEV_SIGNAL, SIGEV_NONE, " +
		"SIGEV_THREAD_ID (any thread of the process); CLOCK_THREAD_CPUTIME_ID EINVAL"
	register(map[uint64]Syscall{
		abi.SYS_TIMER_CREATE:     {Name: "timer_create", Fn: TimerCreate, Support: Partial, Note: partial},
		abi.SYS_TIMER_SETTIME:    {Name: "timer_settime", Fn: TimerSettime},
		abi.SYS_TIMER_GETTIME:    {Name: "timer_gettime", Fn: TimerGettime},
		abi.SYS_TIMER_GETOVERRUN: {Name: "timer_getoverrun", Fn: TimerGetoverrun},
		abi.SYS_TIMER_DELETE:     {Name: "timer_delete", Fn: TimerDelete},
	})
}

// Linux's sigevent notify kinds and timer flags.
const (
	sigevSignal   = 0
	sigevNone     = 1
	sigevThread   = 2
	sigevThreadID = 4

	timerAbstime = 1

	// sizeofSigevent is sizeof(struct sigevent); sigevent's fields sit
	// at value 0, signo 8, notify 12, tid 16.
	sizeofSigevent = 64
	// sizeofItimerspec is sizeof(struct itimerspec): interval, value.
	sizeofItimerspec = 32
	// delaytimerMax is DELAYTIMER_MAX, the cap of an overrun count.
	delaytimerMax = 1<<31 - 1
)

// posixTimer is one timer of timer_create.
type posixTimer struct {
	id     int32
	clock  int32
	signo  int32
	notify int32
	value  uint64 // sigev_value
	// tid is the thread a SIGEV_THREAD_ID timer signals (0: the process).
	tid int32

	timer    *time.Timer
	deadline time.Time
	interval time.Duration
	gen      uint64
	// cpu says the clock is the process's CPU time; cpuDeadline is
	// then the CPU time it fires at (0: disarmed) and timer is unused.
	cpu         bool
	cpuDeadline time.Duration
	// overrun is the si_overrun of the timer's last dequeued signal
	// (timer_getoverrun).
	overrun int32
}

// posixTimers is a process's set of timers.
type posixTimers struct {
	mu     sync.Mutex
	timers map[int32]*posixTimer
	nextID int32
}

// posixTimers returns the process's timer set.
func (p *Process) posixTimers() *posixTimers { return &p.ext().timers }

// TimerCreate implements Linux syscall timer_create(2).
func TimerCreate(t *Task, a *Args) (uint64, error) {
	clk, sevp, idp := a.Int(0), a.Addr(1), a.Addr(2)
	if clk < 0 {
		// A dynamic CPU clock (glibc passes the process clock as
		// MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED)): the caller's own
		// process one only.
		hc, err := t.hostClock(clk)
		if err != nil || cpuClockOf(hc) != abi.CLOCK_PROCESS_CPUTIME_ID {
			return 0, abi.EINVAL
		}
		clk = abi.CLOCK_PROCESS_CPUTIME_ID
	}
	switch clk {
	case abi.CLOCK_REALTIME, abi.CLOCK_MONOTONIC, abi.CLOCK_BOOTTIME,
		abi.CLOCK_REALTIME_ALARM, abi.CLOCK_BOOTTIME_ALARM, abi.CLOCK_TAI:
	case abi.CLOCK_PROCESS_CPUTIME_ID:
		if _, ok := t.usageHost(); !ok {
			return 0, abi.EINVAL
		}
	default:
		return 0, abi.EINVAL
	}
	pt := &posixTimer{clock: clk, signo: abi.SIGALRM, notify: sigevSignal, cpu: clk == abi.CLOCK_PROCESS_CPUTIME_ID}
	if sevp != 0 {
		var b [sizeofSigevent]byte
		if _, err := t.CopyIn(sevp, b[:]); err != nil {
			return 0, err
		}
		pt.value = binary.LittleEndian.Uint64(b[0:])
		pt.signo = int32(binary.LittleEndian.Uint32(b[8:]))
		pt.notify = int32(binary.LittleEndian.Uint32(b[12:]))
		tid := int32(binary.LittleEndian.Uint32(b[16:]))
		switch pt.notify {
		case sigevNone:
		case sigevSignal, sigevThreadID:
			if !validSignal(int(pt.signo)) {
				return 0, abi.EINVAL
			}
			if pt.notify == sigevThreadID {
				// Any thread of the caller's thread group (glibc's
				// SIGEV_THREAD timers name its helper thread).
				if tid != t.Tid && t.Proc.taskByTid(tid) == nil {
					return 0, abi.EINVAL
				}
				pt.tid = tid
			}
		default:
			// SIGEV_THREAD is a libc notion: the kernel sees
			// SIGEV_THREAD_ID, anything else is invalid.
			return 0, abi.EINVAL
		}
	}
	ts := t.Proc.posixTimers()
	ts.mu.Lock()
	if ts.timers == nil {
		ts.timers = map[int32]*posixTimer{}
	}
	for ts.timers[ts.nextID] != nil {
		ts.nextID = (ts.nextID + 1) & (1<<31 - 1)
	}
	pt.id = ts.nextID
	ts.nextID = (ts.nextID + 1) & (1<<31 - 1)
	if sevp == 0 {
		pt.value = uint64(pt.id) // sigev_value.sival_int = the timer id
	}
	ts.timers[pt.id] = pt
	ts.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(pt.id))
	if _, err := t.CopyOut(idp, b[:]); err != nil {
		ts.delete(pt.id)
		return 0, err
	}
	return 0, nil
}

// timer returns the timer id of the calling process, EINVAL if none.
// Preconditions: ts.mu held.
func (ts *posixTimers) timerLocked(id int32) (*posixTimer, error) {
	if pt := ts.timers[id]; pt != nil {
		return pt, nil
	}
	return nil, abi.EINVAL
}

// delete disarms and forgets timer id.
func (ts *posixTimers) delete(id int32) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt, err := ts.timerLocked(id)
	if err != nil {
		return err
	}
	pt.disarmLocked()
	delete(ts.timers, id)
	return nil
}

// deleteAll removes every timer (exec).
func (ts *posixTimers) deleteAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for id, pt := range ts.timers {
		pt.disarmLocked()
		delete(ts.timers, id)
	}
}

// disarmLocked stops the timer's pending expiry.
func (pt *posixTimer) disarmLocked() {
	if pt.timer != nil {
		pt.timer.Stop()
		pt.timer = nil
	}
	pt.cpuDeadline = 0 // its watcher ends on the new gen
	pt.gen++
}

// remainingLocked returns the time left and the interval.
func (pt *posixTimer) remainingLocked(now time.Time) (value, interval time.Duration) {
	if pt.timer == nil {
		return 0, pt.interval
	}
	value = pt.deadline.Sub(now)
	if value <= 0 {
		value = 1 // expiring right now: still armed
	}
	return value, pt.interval
}

// timerSpec is the struct itimerspec of a value and an interval.
func timerSpec(value, interval time.Duration) unix.ItimerSpec {
	return unix.ItimerSpec{Interval: unix.NsecToTimespec(int64(interval)), Value: unix.NsecToTimespec(int64(value))}
}

// timespecDuration converts a valid timespec to a duration.
func timespecDuration(ts abi.Timespec) (time.Duration, bool) {
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return 0, false
	}
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if ts.Sec >= maxSec {
		return 1<<63 - 1, true
	}
	return time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec), true
}

// TimerSettime implements Linux syscall timer_settime(2).
func TimerSettime(t *Task, a *Args) (uint64, error) {
	if pt, ok := t.Proc.posixTimers().cpuTimer(a.Int(0)); ok {
		return t.settimeCPU(pt, a) // sys_time_posixtimer_cpu.go
	}
	id, flags, newp, oldp := a.Int(0), a.Int(1), a.Addr(2), a.Addr(3)
	value, interval, err := t.copyInItimerspec(newp)
	if err != nil {
		return 0, err
	}
	p := t.Proc
	ts := p.posixTimers()
	ts.mu.Lock()
	pt, err := ts.timerLocked(id)
	if err != nil {
		ts.mu.Unlock()
		return 0, err
	}
	oldValue, oldInterval := pt.remainingLocked(time.Now())
	pt.disarmLocked()
	ts.mu.Unlock()
	// The old setting's pending signal goes before the new one can fire.
	p.dropTimerSignal(id)
	ts.mu.Lock()
	if pt, err = ts.timerLocked(id); err != nil {
		ts.mu.Unlock()
		return 0, err
	}
	pt.disarmLocked() // in case another settime raced in
	pt.overrun = 0
	pt.interval = interval
	if value != 0 { // a zero it_value disarms
		if flags&timerAbstime != 0 {
			value = pt.untilLocked(value)
		}
		pt.deadline = time.Now().Add(value)
		gen := pt.gen
		pt.timer = time.AfterFunc(value, func() { p.expireTimer(id, gen) })
	}
	ts.mu.Unlock()
	if oldp != 0 {
		if _, err := t.CopyOut(oldp, itimerspecBytes(timerSpec(oldValue, oldInterval))); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// copyInItimerspec reads a struct itimerspec: EINVAL for a bad timespec.
func (t *Task) copyInItimerspec(addr abi.Addr) (value, interval time.Duration, err error) {
	var b [sizeofItimerspec]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, err
	}
	interval, ok1 := timespecDuration(abi.TimespecFromBytes(b[0:16]))
	value, ok2 := timespecDuration(abi.TimespecFromBytes(b[16:32]))
	if !ok1 || !ok2 {
		return 0, 0, abi.EINVAL
	}
	return value, interval, nil
}

// untilLocked turns an absolute deadline at on the timer's clock into a
// delay from now (0 once it has passed).
func (pt *posixTimer) untilLocked(at time.Duration) time.Duration {
	clk := pt.clock
	switch clk {
	case abi.CLOCK_REALTIME_ALARM:
		clk = abi.CLOCK_REALTIME
	case abi.CLOCK_BOOTTIME_ALARM:
		clk = abi.CLOCK_BOOTTIME
	}
	now, err := readClock(clk)
	if err != nil {
		return 0
	}
	d, _ := timespecDuration(now)
	return max(at-d, 0)
}

// expireTimer runs when timer id of generation gen fires: it queues the
// timer's signal, or counts an overrun while the last one is pending,
// and re-arms a periodic timer.
func (p *Process) expireTimer(id int32, gen uint64) {
	ts := p.posixTimers()
	ts.mu.Lock()
	pt := ts.timers[id]
	if pt == nil || pt.gen != gen {
		ts.mu.Unlock()
		return
	}
	missed := int32(0)
	if pt.interval > 0 {
		pt.deadline = pt.deadline.Add(pt.interval)
		now := time.Now()
		for !pt.deadline.After(now) && missed < delaytimerMax { // missed periods are overruns
			pt.deadline = pt.deadline.Add(pt.interval)
			missed++
		}
		pt.timer = time.AfterFunc(pt.deadline.Sub(now), func() { p.expireTimer(id, gen) })
	} else {
		pt.timer = nil
	}
	info, tid, send := pt.signalLocked(missed)
	ts.mu.Unlock()
	if send {
		p.deliverTimerSignal(info, tid)
	}
}

// signalLocked is the signal an expiry of pt sends with missed overruns,
// and the thread it goes to (0: the process); send is false for
// SIGEV_NONE. Preconditions: the timers' mu held.
func (pt *posixTimer) signalLocked(missed int32) (info *abi.Siginfo, tid int32, send bool) {
	if pt.notify == sigevNone {
		return nil, 0, false
	}
	info = &abi.Siginfo{Signo: pt.signo, Code: abi.SI_TIMER}
	info.SetTimerID(pt.id)
	info.SetValue(pt.value)
	info.SetOverrun(missed)
	return info, pt.tid, true
}

// deliverTimerSignal queues a timer's signal for thread tid of p, or for
// p (tid 0, or a thread that is gone).
func (p *Process) deliverTimerSignal(info *abi.Siginfo, tid int32) {
	if tid != 0 {
		if target := p.taskByTid(tid); target != nil {
			target.queueTimerSignal(info) // thread-directed
			return
		}
		// The thread is gone: the process gets it (threaded processes
		// only; a single task is its own taskByTid miss).
	}
	p.queueTimerSignal(info)
}

// TimerGettime implements Linux syscall timer_gettime(2).
func TimerGettime(t *Task, a *Args) (uint64, error) {
	if pt, ok := t.Proc.posixTimers().cpuTimer(a.Int(0)); ok {
		return t.gettimeCPU(pt, a) // sys_time_posixtimer_cpu.go
	}
	ts := t.Proc.posixTimers()
	ts.mu.Lock()
	pt, err := ts.timerLocked(a.Int(0))
	if err != nil {
		ts.mu.Unlock()
		return 0, err
	}
	value, interval := pt.remainingLocked(time.Now())
	ts.mu.Unlock()
	_, err = t.CopyOut(a.Addr(1), itimerspecBytes(timerSpec(value, interval)))
	return 0, err
}

// TimerGetoverrun implements Linux syscall timer_getoverrun(2).
func TimerGetoverrun(t *Task, a *Args) (uint64, error) {
	ts := t.Proc.posixTimers()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt, err := ts.timerLocked(a.Int(0))
	if err != nil {
		return 0, err
	}
	return uint64(pt.overrun), nil
}

// TimerDelete implements Linux syscall timer_delete(2).
func TimerDelete(t *Task, a *Args) (uint64, error) {
	if err := t.Proc.posixTimers().delete(a.Int(0)); err != nil {
		return 0, err
	}
	t.Proc.dropTimerSignal(a.Int(0))
	return 0, nil
}
