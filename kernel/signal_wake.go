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
	if !validSignal(sig) {
		return
	}
	p.sigHandlers()
	info := &abi.Siginfo{Signo: int32(sig), Code: abi.SI_USER}
	info.SetPid(p.pid())
	info.SetUid(uint32(os.Getuid()))
	if err := p.queueShared(nil, info); err != nil {
		return
	}
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
