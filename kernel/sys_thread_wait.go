package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Interruptible host waits.
//
// Blocking syscalls (nanosleep, futex wait) run as real host syscalls on the
// task's own OS thread. A guest signal must cut them short, so the signals
// code calls (*Task).InterruptWait after queueing a signal the task will act
// on: it marks the task interrupted and, if the task is blocked in a host
// wait, sends its OS thread SIGURG (which the Go runtime tolerates and which
// makes the host call return EINTR). The host waits used here always carry
// a timeout, because Linux restarts untimed waits transparently after a
// handler installed with SA_RESTART (as Go's are), and then they would not
// return. A SIGURG landing between the interrupted check and the host call
// would be lost, so the kicker repeats until the wait it aimed at has ended.
//
// The mark stays set until ClearInterrupt, which the signals code calls once
// it has delivered what was pending; a wait that starts while it is set
// returns at once.

// taskWait is one task's interruptible-wait state.
type taskWait struct {
	mu          sync.Mutex
	interrupted bool
	// hostTid is the OS thread blocked in a host wait (0: none) and gen
	// counts waits, so a kicker stops once the wait it aimed at is over.
	hostTid int
	gen     uint64
}

// waitState returns the task's wait state.
func (t *Task) waitState() *taskWait {
	x := t.Proc.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	w := x.waits[t]
	if w == nil {
		w = &taskWait{}
		x.waits[t] = w
	}
	return w
}

// InterruptWait makes the task's current or next interruptible wait return
// early (EINTR or a restart code). It may be called from any goroutine.
func (t *Task) InterruptWait() {
	w := t.waitState()
	w.mu.Lock()
	w.interrupted = true
	tid, gen := w.hostTid, w.gen
	w.mu.Unlock()
	if tid != 0 {
		go w.kick(tid, gen)
	}
}

// ClearInterrupt forgets an interruption once its signal has been handled.
func (t *Task) ClearInterrupt() {
	w := t.waitState()
	w.mu.Lock()
	w.interrupted = false
	w.mu.Unlock()
}

// kick signals the thread of wait gen until that wait has ended.
func (w *taskWait) kick(tid int, gen uint64) {
	pid := unix.Getpid()
	delay := 50 * time.Microsecond
	for {
		w.mu.Lock()
		still := w.hostTid == tid && w.gen == gen
		w.mu.Unlock()
		if !still {
			return
		}
		_ = unix.Tgkill(pid, tid, unix.SIGURG)
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// hostWait runs one blocking host call fn on the task's thread so that
// InterruptWait can cut it short. interrupted is true when the task was
// interrupted before the call (fn did not run) or the call returned EINTR
// because of it; otherwise err is fn's, which may be a spurious unix.EINTR
// from the Go runtime that the caller treats as a retry.
func (t *Task) hostWait(fn func() error) (interrupted bool, err error) {
	w := t.waitState()
	w.mu.Lock()
	if w.interrupted {
		w.mu.Unlock()
		return true, nil
	}
	w.gen++
	w.hostTid = unix.Gettid()
	w.mu.Unlock()

	err = fn()

	w.mu.Lock()
	w.hostTid = 0
	interrupted = w.interrupted
	w.mu.Unlock()
	return interrupted && err == unix.EINTR, err
}
