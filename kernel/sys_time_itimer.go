package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Interval timers. ITIMER_REAL (and alarm, which is built on it) is a Go
// timer per process that sends SIGALRM to the process when it expires
// through Process.Kill, which may be called from any goroutine and wakes the
// threads that will take the signal. ITIMER_VIRTUAL and ITIMER_PROF run on
// the process's CPU time (sys_time_itimer_cpu.go).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_SETITIMER: {Name: "setitimer", Fn: Setitimer, Support: Partial,
			Note: "ITIMER_VIRTUAL/ITIMER_PROF polled (late by up to a tick; EINVAL without a UsageHost)"},
		abi.SYS_GETITIMER: {Name: "getitimer", Fn: Getitimer, Support: Partial,
			Note: "ITIMER_VIRTUAL/ITIMER_PROF polled (late by up to a tick; EINVAL without a UsageHost)"},
		abi.SYS_ALARM: {Name: "alarm", Fn: Alarm},
	})
}

// itimerReal is ITIMER_REAL (ITIMER_VIRTUAL is 1, ITIMER_PROF 2).
const itimerReal = 0

// sigALRM is SIGALRM's number (abi.SIGALRM once the signals ABI is merged).
const sigALRM = 14

// sizeofItimerval is sizeof(struct itimerval): two struct timevals.
const sizeofItimerval = 32

// realTimer is a process's ITIMER_REAL.
type realTimer struct {
	mu sync.Mutex
	// timer is the pending expiry (nil: disarmed); deadline is when it
	// fires and interval the reload value (0: one-shot).
	timer    *time.Timer
	deadline time.Time
	interval time.Duration
	// gen invalidates the callbacks of timers that were re-armed.
	gen uint64
	// fire delivers the expiry; it runs without mu held.
	fire func()
}

// tvDuration converts a timeval to a duration; ok is false when it is not a
// valid timeval (negative or usec out of range).
func tvDuration(sec, usec int64) (time.Duration, bool) {
	if sec < 0 || usec < 0 || usec >= 1e6 {
		return 0, false
	}
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if sec >= maxSec {
		return 1<<63 - 1, true
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, true
}

// durationTV converts a non-negative duration to timeval seconds and
// microseconds, rounding up so a pending timer never reads as 0.
func durationTV(d time.Duration) (sec, usec int64) {
	us := (d + time.Microsecond - 1) / time.Microsecond
	return int64(us / 1e6), int64(us % 1e6)
}

// getLocked returns the time left and the interval.
// Preconditions: r.mu held.
func (r *realTimer) getLocked(now time.Time) (value, interval time.Duration) {
	if r.timer == nil {
		return 0, r.interval
	}
	value = r.deadline.Sub(now)
	if value <= 0 {
		value = time.Microsecond // expiring right now: still armed
	}
	return value, r.interval
}

// set arms the timer to fire after value and then every interval (value 0
// disarms it) and returns the previous setting.
func (r *realTimer) set(value, interval time.Duration) (oldValue, oldInterval time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	oldValue, oldInterval = r.getLocked(now)
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.gen++
	r.interval = interval
	if value == 0 {
		r.interval = 0 // a disarmed timer has no interval (Linux)
		return oldValue, oldInterval
	}
	r.deadline = now.Add(value)
	r.armLocked(r.gen, value)
	return oldValue, oldInterval
}

// armLocked starts the Go timer for generation gen.
// Preconditions: r.mu held.
func (r *realTimer) armLocked(gen uint64, after time.Duration) {
	r.timer = time.AfterFunc(after, func() { r.expire(gen) })
}

// expire runs when the timer of generation gen fires.
func (r *realTimer) expire(gen uint64) {
	r.mu.Lock()
	if gen != r.gen {
		r.mu.Unlock()
		return
	}
	fire := r.fire
	if r.interval > 0 {
		// Reload from the planned deadline so periods do not drift.
		r.deadline = r.deadline.Add(r.interval)
		if now := time.Now(); r.deadline.Before(now) {
			r.deadline = now.Add(r.interval)
		}
		r.armLocked(gen, time.Until(r.deadline))
	} else {
		r.timer = nil
	}
	r.mu.Unlock()
	if fire != nil {
		fire()
	}
}

// realTimer returns the process's ITIMER_REAL.
func (t *Task) realTimer() *realTimer {
	r := &t.Proc.ext().itReal
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fire == nil {
		// Kill wakes the threads that do not block SIGALRM (vCPU kick
		// and interruptible host waits); a thread blocking it must not
		// see its sleep cut short.
		p := t.Proc
		r.fire = func() { p.KillInfo(&abi.Siginfo{Signo: sigALRM, Code: abi.SI_KERNEL}) }
	}
	return r
}

// putItimerval encodes a struct itimerval {it_interval, it_value}.
func putItimerval(value, interval time.Duration) []byte {
	b := make([]byte, sizeofItimerval)
	is, iu := durationTV(interval)
	vs, vu := durationTV(value)
	for i, v := range []int64{is, iu, vs, vu} {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

// checkWhich validates an itimer kind.
func checkWhich(which int32) error {
	if which != itimerReal && which != itimerVirtual && which != itimerProf {
		return abi.EINVAL
	}
	return nil
}

// Getitimer implements Linux syscall getitimer(2).
func Getitimer(t *Task, a *Args) (uint64, error) {
	if err := checkWhich(a.Int(0)); err != nil {
		return 0, err
	}
	if which := a.Int(0); which != itimerReal {
		value, interval, err := t.getCPUTimer(which)
		if err != nil {
			return 0, err
		}
		_, err = t.CopyOut(a.Addr(1), putItimerval(value, interval))
		return 0, err
	}
	r := t.realTimer()
	r.mu.Lock()
	value, interval := r.getLocked(time.Now())
	r.mu.Unlock()
	_, err := t.CopyOut(a.Addr(1), putItimerval(value, interval))
	return 0, err
}

// Setitimer implements Linux syscall setitimer(2). A NULL new value disarms
// the timer, as Linux still accepts.
func Setitimer(t *Task, a *Args) (uint64, error) {
	if err := checkWhich(a.Int(0)); err != nil {
		return 0, err
	}
	var value, interval time.Duration
	if p := a.Addr(1); p != 0 {
		b := make([]byte, sizeofItimerval)
		if _, err := t.CopyIn(p, b); err != nil {
			return 0, err
		}
		f := func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[8*i:])) }
		var ok1, ok2 bool
		interval, ok1 = tvDuration(f(0), f(1))
		value, ok2 = tvDuration(f(2), f(3))
		if !ok1 || !ok2 {
			return 0, abi.EINVAL
		}
	}
	var oldValue, oldInterval time.Duration
	if which := a.Int(0); which != itimerReal {
		var err error
		if oldValue, oldInterval, err = t.setCPUTimer(which, value, interval); err != nil {
			return 0, err
		}
	} else {
		oldValue, oldInterval = t.realTimer().set(value, interval)
	}
	if p := a.Addr(2); p != 0 {
		if _, err := t.CopyOut(p, putItimerval(oldValue, oldInterval)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Alarm implements Linux syscall alarm(2): ITIMER_REAL set to whole seconds
// without interval; it returns the seconds left of the previous alarm,
// rounded to the nearest second but never 0 for a pending one.
func Alarm(t *Task, a *Args) (uint64, error) {
	oldValue, _ := t.realTimer().set(time.Duration(a.Uint(0))*time.Second, 0)
	sec, usec := durationTV(oldValue)
	if (sec == 0 && usec != 0) || usec >= 500000 {
		sec++
	}
	return uint64(sec), nil
}
