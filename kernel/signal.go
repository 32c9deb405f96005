package kernel

// Signals within one guest process: dispositions, pending queues, masks and
// the choice of the next signal to deliver. Frames are built in sigframe.go,
// CPU exceptions become signals in signal_fault.go, and the syscalls live in
// sys_signal*.go.
//
// Locking: SignalHandlers.mu is the process's signal lock (Linux's
// siglock). It guards the dispositions, the shared pending queue, every
// task's TaskSignals and writes of Task.SigMask and Task.AltStack made while
// other goroutines may look. It comes after Process.mu in the lock order
// and is never held while touching guest memory, the vCPU, the Host or
// another helper's locks (InterruptWait): the code drops it first.

import (
	"os"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
)

// noSyscall in Task.OrigRAX means "this exit was not a syscall" (Linux's
// orig_ax == -1): no restart processing applies.
const noSyscall = ^uint64(0)

// maxQueuedSignals bounds the queued siginfos of one pending set, standing
// in for RLIMIT_SIGPENDING. Standard signals never queue more than one.
const maxQueuedSignals = 4096

// synchronousSignals are the signals CPU faults raise; Linux delivers them
// before any other pending signal (SYNCHRONOUS_MASK).
var synchronousSignals = abi.SigSetOf(abi.SIGSEGV, abi.SIGBUS, abi.SIGILL,
	abi.SIGTRAP, abi.SIGFPE, abi.SIGSYS)

// SignalHandlers are a process's signal dispositions and its
// process-directed pending signals.
type SignalHandlers struct {
	mu      sync.Mutex
	actions [abi.NSIG]abi.Sigaction
	// tasks are the threads that have run (registered at their first
	// DeliverSignals), for process-directed signals from outside.
	tasks map[*Task]struct{}
	// shared holds signals sent to the whole process (kill), which any
	// of its threads may take.
	shared sigPending
	// changed is closed and replaced whenever a signal is queued anywhere
	// in the process: sleepers sample it under mu and wait on it.
	changed chan struct{}
	// contSeq is the newest sequence number of a SIGCONT the supervisor
	// sent (jobctl.go).
	contSeq uint64
	// sigfds are the process's open signalfds (sys_signal_fd.go).
	sigfds []*signalFD
}

// NewSignalHandlers returns all-default dispositions.
func NewSignalHandlers() *SignalHandlers {
	return &SignalHandlers{changed: make(chan struct{})}
}

// sigHandlers returns p.Signals, installing default dispositions in a
// Process built without them (other helpers' unit-test fakes), so every
// entry point of the signal code works on any Process.
func (p *Process) sigHandlers() *SignalHandlers {
	if s := p.Signals; s != nil {
		return s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Signals == nil {
		p.Signals = NewSignalHandlers()
	}
	return p.Signals
}

// pid is the guest-visible pid of p (0 without a Host, in fakes).
func (p *Process) pid() int32 {
	if p.Kernel == nil || p.Kernel.Host == nil {
		return 0
	}
	return p.Kernel.Host.Pid()
}

// Action returns the disposition of sig (valid numbers only).
func (s *SignalHandlers) Action(sig int) abi.Sigaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.actions[sig-1]
}

// ResetForExec applies execve's rule: caught signals go back to SIG_DFL,
// ignored ones stay ignored, flags and masks are cleared.
func (s *SignalHandlers) ResetForExec() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.actions {
		h := s.actions[i].Handler
		if h != abi.SIG_IGN {
			h = abi.SIG_DFL
		}
		s.actions[i] = abi.Sigaction{Handler: h}
	}
}

// ResetSignalsForExec applies execve's rules to the calling thread and
// its process: caught signals revert to SIG_DFL (ignored ones stay
// ignored), the alternate stack is dropped; the mask and pending signals
// survive.
func (t *Task) ResetSignalsForExec() {
	t.Proc.sigHandlers()
	t.Proc.Signals.ResetForExec()
	s := t.Proc.Signals
	s.mu.Lock()
	t.AltStack = abi.StackT{}
	t.SigState.restoreMask = false
	s.mu.Unlock()
}

// notifyLocked wakes every sleeper waiting for a signal.
// Preconditions: s.mu held.
func (s *SignalHandlers) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
	s.refreshSignalfdsLocked()
}

// waitChanLocked returns the channel closed at the next queued signal.
// Preconditions: s.mu held.
func (s *SignalHandlers) waitChanLocked() <-chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// ignoredLocked reports whether sig's disposition discards it: SIG_IGN, or
// SIG_DFL for a signal whose default is to ignore. Stop signals are not
// ignored here (their default is applied at delivery).
// Preconditions: s.mu held.
func (s *SignalHandlers) ignoredLocked(sig int) bool {
	if abi.UnblockableSignals.Has(sig) {
		return false
	}
	switch s.actions[sig-1].Handler {
	case abi.SIG_IGN:
		return true
	case abi.SIG_DFL:
		return defaultAction(sig) == actIgnore
	}
	return false
}

// discardedLocked reports whether a signal sent now, while not blocked,
// would have no effect and is dropped instead of queued: an ignored one.
// A stop signal with SIG_DFL is queued: its delivery stops the process.
// Preconditions: s.mu held.
func (s *SignalHandlers) discardedLocked(sig int) bool {
	return s.ignoredLocked(sig)
}

// sigPending is a set of pending signals with their siginfo, in arrival
// order.
type sigPending struct {
	set   abi.SigSet
	queue []abi.Siginfo
}

// add queues info. A standard signal already pending is dropped (it does
// not queue twice); a real-time one queues up to maxQueuedSignals.
func (p *sigPending) add(info *abi.Siginfo) error {
	sig := int(info.Signo)
	if sig < abi.SIGRTMIN && p.set.Has(sig) {
		return nil
	}
	if len(p.queue) >= maxQueuedSignals {
		if sig >= abi.SIGRTMIN && info.Code != abi.SI_USER {
			return abi.EAGAIN
		}
		if p.set.Has(sig) {
			return nil
		}
	}
	p.queue = append(p.queue, *info)
	p.set |= abi.SigBit(sig)
	return nil
}

// take removes the oldest queued instance of sig.
func (p *sigPending) take(sig int) (abi.Siginfo, bool) {
	if !p.set.Has(sig) {
		return abi.Siginfo{}, false
	}
	var (
		info  abi.Siginfo
		found bool
		more  bool
	)
	out := p.queue[:0]
	for _, q := range p.queue {
		if int(q.Signo) == sig {
			if !found {
				info, found = q, true
				continue
			}
			more = true
		}
		out = append(out, q)
	}
	clear(p.queue[len(out):])
	p.queue = out
	if !more {
		p.set &^= abi.SigBit(sig)
	}
	if !found {
		// Pending bit without a queued siginfo (the queue was full):
		// Linux reports a bare SI_USER.
		info = abi.Siginfo{Signo: int32(sig), Code: abi.SI_USER}
	}
	return info, true
}

// flush discards every pending instance of the signals in set.
func (p *sigPending) flush(set abi.SigSet) {
	if p.set&set == 0 {
		return
	}
	out := p.queue[:0]
	for _, q := range p.queue {
		if !set.Has(int(q.Signo)) {
			out = append(out, q)
		}
	}
	clear(p.queue[len(out):])
	p.queue = out
	p.set &^= set
}

// next returns the signal of set (minus mask) Linux would take first:
// the lowest synchronous one, else the lowest.
func (p *sigPending) next(mask abi.SigSet) int {
	x := p.set &^ mask
	if x == 0 {
		return 0
	}
	if x&synchronousSignals != 0 {
		x &= synchronousSignals
	}
	for sig := 1; sig <= abi.NSIG; sig++ {
		if x.Has(sig) {
			return sig
		}
	}
	return 0
}

// TaskSignals is a thread's signal state beyond the mask and altstack
// (which live in Task): its private pending queue, the mask saved by
// sigsuspend-like calls, and the last fault's trap information.
// Guarded by the process's SignalHandlers.mu.
type TaskSignals struct {
	pending sigPending

	// savedMask is restored after the next signal delivery when
	// restoreMask is set (sigsuspend, ppoll, pselect6).
	savedMask   abi.SigSet
	restoreMask bool

	// realBlocked is the mask before rt_sigtimedwait unblocked the
	// waited-for signals; such signals are not discarded as ignored.
	realBlocked abi.SigSet

	// registered: the task is in SignalHandlers.tasks.
	registered bool

	// trapNo, errCode and cr2 describe the last CPU exception; they go
	// into sigcontext trapno, err and cr2 like Linux's thread fields.
	trapNo, errCode, cr2 uint64
}

// Default actions.
type sigAction int

const (
	actTerm sigAction = iota
	actCore
	actIgnore
	actStop
)

// defaultAction returns what SIG_DFL does for sig (signal(7)).
func defaultAction(sig int) sigAction {
	switch sig {
	case abi.SIGQUIT, abi.SIGILL, abi.SIGTRAP, abi.SIGABRT, abi.SIGBUS,
		abi.SIGFPE, abi.SIGSEGV, abi.SIGXCPU, abi.SIGXFSZ, abi.SIGSYS:
		return actCore
	case abi.SIGCHLD, abi.SIGURG, abi.SIGWINCH, abi.SIGCONT:
		return actIgnore
	case abi.SIGSTOP, abi.SIGTSTP, abi.SIGTTIN, abi.SIGTTOU:
		return actStop
	}
	return actTerm
}

// deathStatus is the wait status of a process killed by sig's default
// action. Linux adds the core-dump flag (0x80) only once a core file was
// written, and elfuse writes none: a core-dumping signal's status is its
// number alone, as on Linux under ulimit -c 0.
func deathStatus(sig int) uint32 {
	return uint32(sig)
}

// validSignal reports whether sig is a signal number (0 excluded).
func validSignal(sig int) bool { return sig >= 1 && sig <= abi.NSIG }

// userInfo returns the siginfo of a signal sent by this process
// (SI_USER for kill, SI_TKILL for tkill/tgkill).
func (t *Task) userInfo(sig int, code int32) *abi.Siginfo {
	info := &abi.Siginfo{Signo: int32(sig), Code: code}
	info.SetPid(t.Proc.pid())
	info.SetUid(uint32(os.Getuid()))
	return info
}

// SendSignal queues sig for this thread. A nil info means "sent by the
// process itself" (SI_USER with its own pid, like Linux's send_sig). If
// the thread does not block it, the thread's sleep in sigsuspend, pause,
// sigtimedwait or an interruptible host wait ends. A sender on another
// goroutine must also Kick the vCPU so that a guest busy in user code sees
// the signal before its next exit (Process.Kill does that).
func (t *Task) SendSignal(sig int, info *abi.Siginfo) {
	if !validSignal(sig) {
		return
	}
	t.Proc.sigHandlers()
	if info == nil {
		info = t.userInfo(sig, abi.SI_USER)
	}
	info.Signo = int32(sig)
	if err := t.queueSignal(info, false); err != nil {
		t.Log.Debug("signal not queued", "sig", sig, "error", err)
	}
}

// queueSignal queues info in t's private (shared=false) or the process's
// pending set, dropping it if its disposition ignores it and t does not
// block it.
func (t *Task) queueSignal(info *abi.Siginfo, shared bool) error {
	if shared {
		return t.Proc.queueShared(t, info)
	}
	s := t.Proc.Signals
	sig := int(info.Signo)
	s.mu.Lock()
	s.prepareSignalLocked(sig, t)
	if s.discardedLocked(sig) && !t.blocksLocked(sig) {
		s.mu.Unlock()
		return nil
	}
	err := t.SigState.pending.add(info)
	if err == nil {
		s.notifyLocked()
	}
	wake := err == nil && !t.blocksLocked(sig)
	s.mu.Unlock()
	if wake {
		// A host wait in progress (another goroutine sending) must end.
		t.interruptWait()
	}
	return err
}

// queueShared queues a process-directed signal; by is the sending thread
// of the process (nil: sent from outside). An ignored signal is dropped
// unless the thread (from outside: any known thread) blocks it.
func (p *Process) queueShared(by *Task, info *abi.Siginfo) error {
	queued, err := p.queueSharedReport(by, info)
	if queued && p.threaded() {
		p.wakeOthersFor(int(info.Signo), by) // thread.go
	}
	return err
}

// queueSharedReport is queueShared that also reports whether the signal
// was queued (false: dropped as ignored).
func (p *Process) queueSharedReport(by *Task, info *abi.Siginfo) (bool, error) {
	s := p.Signals
	s.mu.Lock()
	defer s.mu.Unlock()
	sig := int(info.Signo)
	s.prepareSignalLocked(sig, by)
	if s.discardedLocked(sig) && !s.blockedLocked(by, sig) {
		return false, nil
	}
	if err := s.shared.add(info); err != nil {
		return false, err
	}
	s.notifyLocked()
	return true, nil
}

// blockedLocked reports whether by (nil: any known thread of the
// process) blocks sig. Preconditions: s.mu held.
func (s *SignalHandlers) blockedLocked(by *Task, sig int) bool {
	if by != nil {
		return by.blocksLocked(sig)
	}
	for t := range s.tasks {
		if t.blocksLocked(sig) {
			return true
		}
	}
	return false
}

// blocksLocked reports whether t blocks sig now or did before a
// sigtimedwait unblocked it. Preconditions: Signals.mu held.
func (t *Task) blocksLocked(sig int) bool {
	return abi.SigSet(t.SigMask).Has(sig) || t.SigState.realBlocked.Has(sig)
}

// forceSignal queues a fault signal the way Linux's force_sig_info does:
// if the thread blocks or ignores it, the disposition goes back to SIG_DFL
// and the signal is unblocked, so the default action (death) happens.
func (t *Task) forceSignal(info *abi.Siginfo) {
	s := t.Proc.Signals
	s.mu.Lock()
	defer s.mu.Unlock()
	sig := int(info.Signo)
	act := &s.actions[sig-1]
	blocked := abi.SigSet(t.SigMask).Has(sig)
	if blocked || act.Handler == abi.SIG_IGN {
		act.Handler = abi.SIG_DFL
		if blocked {
			t.SigMask &^= uint64(abi.SigBit(sig))
		}
	}
	_ = t.SigState.pending.add(info)
	s.notifyLocked()
}

// forceSigsegv is Linux's force_sigsegv: used when a frame for sig cannot
// be built; a failing SIGSEGV handler is reset so the next one kills.
func (t *Task) forceSigsegv(sig int) {
	if sig == abi.SIGSEGV {
		s := t.Proc.Signals
		s.mu.Lock()
		s.actions[sig-1].Handler = abi.SIG_DFL
		s.mu.Unlock()
	}
	t.forceSignal(&abi.Siginfo{Signo: abi.SIGSEGV, Code: abi.SI_KERNEL})
}

// pendingLocked returns the signals pending for t (its own and the
// process's). Preconditions: Signals.mu held.
func (t *Task) pendingLocked() abi.SigSet {
	return t.SigState.pending.set | t.Proc.Signals.shared.set
}

// hasDeliverableLocked reports whether a pending signal is not blocked.
// Preconditions: Signals.mu held.
func (t *Task) hasDeliverableLocked() bool {
	return t.pendingLocked()&^abi.SigSet(t.SigMask) != 0
}

// dequeueLocked takes the next pending signal outside mask: the thread's
// own first, then the process's. Preconditions: Signals.mu held.
func (t *Task) dequeueLocked(mask abi.SigSet) (abi.Siginfo, bool) {
	if sig := t.SigState.pending.next(mask); sig != 0 {
		info, ok := t.SigState.pending.take(sig)
		t.Proc.Signals.refreshSignalfdsLocked()
		return info, ok
	}
	if sig := t.Proc.Signals.shared.next(mask); sig != 0 {
		info, ok := t.Proc.Signals.shared.take(sig)
		if ok && info.Code == abi.SI_TIMER {
			t.Proc.timerDequeued(&info)
		}
		t.Proc.Signals.refreshSignalfdsLocked()
		return info, ok
	}
	return abi.Siginfo{}, false
}

// setSigMask replaces the blocked set; SIGKILL and SIGSTOP stay unblocked.
func (t *Task) setSigMask(m abi.SigSet) {
	s := t.Proc.Signals
	s.mu.Lock()
	t.SigMask = uint64(m &^ abi.UnblockableSignals)
	s.mu.Unlock()
}

// SetTemporarySigMask installs mask for the length of a blocking call
// (ppoll, pselect6, epoll_pwait, like Linux's set_user_sigmask). Call
// RestoreTemporarySigMask when the call returns: with interrupted=true
// (the call returns EINTR/ERESTART*) the old mask comes back only after
// the signal handler has run, so the signal that woke the call is
// delivered under the temporary mask.
func (t *Task) SetTemporarySigMask(mask abi.SigSet) {
	t.Proc.sigHandlers()
	s := t.Proc.Signals
	s.mu.Lock()
	t.SigState.savedMask = abi.SigSet(t.SigMask)
	t.SigState.restoreMask = true
	t.SigMask = uint64(mask &^ abi.UnblockableSignals)
	s.mu.Unlock()
}

// RestoreTemporarySigMask ends SetTemporarySigMask (see there).
func (t *Task) RestoreTemporarySigMask(interrupted bool) {
	t.Proc.sigHandlers()
	if interrupted {
		return
	}
	s := t.Proc.Signals
	s.mu.Lock()
	if t.SigState.restoreMask {
		t.SigMask = uint64(t.SigState.savedMask)
		t.SigState.restoreMask = false
	}
	s.mu.Unlock()
}

// PendingSignals returns the signals pending for the task (its own and
// its process's), for dumps and /proc status.
func (t *Task) PendingSignals() abi.SigSet {
	t.Proc.sigHandlers()
	s := t.Proc.Signals
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.pendingLocked()
}
