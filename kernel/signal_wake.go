package kernel

// Waking a thread for a signal sent from outside its own syscall path: a
// timer goroutine, later the supervisor. Three things may need a nudge:
// our own signal sleepers (woken by SignalHandlers.changed), a host wait
// in another helper's code (interruptible waits with InterruptWait and
// ClearInterrupt: the hook is found by a type assertion so this file
// compiles with or without them), and a vCPU running guest code (Kick).

import (
	"os"

	"github.com/elfuse/elfuse/kernel/abi"
)

// waitInterrupter is the interruptible-host-wait hook: InterruptWait makes
// the task's current or next host wait return early; ClearInterrupt
// forgets that once the pending signals are handled.
type waitInterrupter interface {
	InterruptWait()
	ClearInterrupt()
}

// interruptWait cuts short a host wait of t, if that mechanism exists.
func (t *Task) interruptWait() {
	if w, ok := any(t).(waitInterrupter); ok {
		w.InterruptWait()
	}
}

// settleInterrupt runs after delivery: the interruption mark goes away
// unless a deliverable signal arrived meanwhile.
func (t *Task) settleInterrupt() {
	w, ok := any(t).(waitInterrupter)
	if !ok {
		return
	}
	w.ClearInterrupt()
	s := t.Proc.Signals
	s.mu.Lock()
	again := t.hasDeliverableLocked()
	s.mu.Unlock()
	if again {
		w.InterruptWait()
	}
}

// register records t among its process's threads (once).
func (t *Task) register() {
	if t.SigState.registered {
		return
	}
	s := t.Proc.Signals
	s.mu.Lock()
	if s.tasks == nil {
		s.tasks = make(map[*Task]struct{})
	}
	s.tasks[t] = struct{}{}
	t.SigState.registered = true
	s.mu.Unlock()
}

// Kill queues sig for the whole process, as kill(getpid(), sig) does, and
// makes every thread that does not block it notice soon: its host waits
// are interrupted and its vCPU kicked. It may be called from any
// goroutine (timers, the supervisor); syscall handlers of the process
// itself use the queueing helpers, which need no kick.
func (p *Process) Kill(sig int) {
	info := &abi.Siginfo{Signo: int32(sig), Code: abi.SI_USER}
	info.SetPid(p.pid())
	info.SetUid(uint32(os.Getuid()))
	p.KillInfo(info)
}

// KillInfo is Kill with a complete siginfo (SI_KERNEL for ITIMER_REAL).
func (p *Process) KillInfo(info *abi.Siginfo) {
	sig := int(info.Signo)
	if !validSignal(sig) {
		return
	}
	p.sigHandlers()
	// A signal dropped as ignored (SIGCHLD, SIGWINCH, SIGURG at SIG_DFL, or
	// SIG_IGN) wakes nobody: on Linux it never interrupts a wait.
	if queued, err := p.queueSharedReport(nil, info); err != nil || !queued {
		return
	}
	p.wakeFor(sig)
}

// queueTimerSignal queues a POSIX timer's SI_TIMER signal like KillInfo,
// unless the same timer's previous signal is still pending: that one then
// counts the expiry in its si_overrun (capped at DELAYTIMER_MAX), as Linux
// does.
func (p *Process) queueTimerSignal(info *abi.Siginfo) {
	p.sigHandlers()
	s := p.Signals
	s.mu.Lock()
	folded := foldTimerSignal(&s.shared, info)
	s.mu.Unlock()
	if !folded {
		p.KillInfo(info)
	}
}

// queueTimerSignal queues a SIGEV_THREAD_ID timer's signal for t alone,
// folding it into one still pending from the same timer (si_overrun), as
// Process.queueTimerSignal does for the process.
func (t *Task) queueTimerSignal(info *abi.Siginfo) {
	p := t.Proc
	p.sigHandlers()
	s := p.Signals
	s.mu.Lock()
	folded := foldTimerSignal(&t.SigState.pending, info)
	s.mu.Unlock()
	if folded {
		return
	}
	t.SendSignal(int(info.Signo), info)
	t.interruptWait()
	if cpu := t.CPU; cpu != nil {
		cpu.Kick()
	}
}

// dropTimerSignal removes timer id's pending signal: a timer that is
// re-armed, disarmed or deleted loses it, as on Linux since 6.13.
func (p *Process) dropTimerSignal(id int32) {
	p.sigHandlers()
	s := p.Signals
	s.mu.Lock()
	defer s.mu.Unlock()
	if dropTimerFrom(&s.shared, id) {
		return
	}
	// A SIGEV_THREAD_ID timer's signal waits in its thread's own set.
	for t := range s.tasks {
		if dropTimerFrom(&t.SigState.pending, id) {
			return
		}
	}
}

// foldTimerSignal adds info's overruns, plus one, to the signal of the
// same timer still pending in q, if there is one, and reports whether it
// did. Preconditions: the SignalHandlers' mu is held.
func foldTimerSignal(q *sigPending, info *abi.Siginfo) bool {
	for i := range q.queue {
		e := &q.queue[i]
		if e.Code == abi.SI_TIMER && e.TimerID() == info.TimerID() {
			n := int64(e.Overrun()) + 1 + int64(info.Overrun())
			e.SetOverrun(int32(min(n, 1<<31-1)))
			return true
		}
	}
	return false
}

// dropTimerFrom removes timer id's signal from q and reports whether it
// was there.
func dropTimerFrom(q *sigPending, id int32) bool {
	for i := range q.queue {
		if q.queue[i].Code != abi.SI_TIMER || q.queue[i].TimerID() != id {
			continue
		}
		sig := int(q.queue[i].Signo)
		q.queue = append(q.queue[:i], q.queue[i+1:]...)
		still := false
		for j := range q.queue {
			still = still || int(q.queue[j].Signo) == sig
		}
		if !still {
			q.set &^= abi.SigBit(sig)
		}
		return true
	}
	return false
}

// timerDequeued tells the timers that a SI_TIMER signal left the queue,
// for timer_getoverrun. Preconditions: Signals.mu held (timer locks are
// leaves under it).
func (p *Process) timerDequeued(info *abi.Siginfo) {
	ts := p.posixTimers()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if pt := ts.timers[info.TimerID()]; pt != nil {
		pt.overrun = info.Overrun()
	}
}

// wakeFor makes every thread that does not block sig notice it soon.
func (p *Process) wakeFor(sig int) {
	s := p.Signals
	s.mu.Lock()
	var wake []*Task
	for t := range s.tasks {
		if !t.blocksLocked(sig) {
			wake = append(wake, t)
		}
	}
	s.mu.Unlock()
	for _, t := range wake {
		t.interruptWait()
		if t.CPU != nil {
			t.CPU.Kick()
		}
	}
}

// SignalPending reports whether a signal the thread does not block is
// pending: a blocking syscall woken by a host EINTR asks this to decide
// between retrying and returning its restart code.
func (t *Task) SignalPending() bool {
	s := t.Proc.sigHandlers()
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.hasDeliverableLocked()
}
