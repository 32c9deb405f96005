package kernel

// Job control inside one process: the default action of the stop signals
// (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) and the way SIGCONT and the stop
// signals cancel each other while pending. Stopping itself is the
// supervisor's business (it owns the tree, the parent's wait reports and
// the host process that must stop), reached through JobHost.

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// stopSignals are the signals whose default action stops the process.
var stopSignals = abi.SigSetOf(abi.SIGSTOP, abi.SIGTSTP, abi.SIGTTIN, abi.SIGTTOU)

// JobHost is the part of a Host that stops the whole process. guestproc
// implements it; without it a stop signal's default action does nothing.
type JobHost interface {
	// StopSelf stops the process as the default action of stop signal
	// sig and returns once it runs again (SIGCONT). The parent's wait
	// sees it stopped by sig and it gets SIGCHLD CLD_STOPPED. contSeq is
	// the newest SIGCONT sequence number the process had taken in (see
	// Process.ContinueFrom) when it dequeued sig: a SIGCONT sent after
	// that cancels the stop. It reports false without stopping when the
	// stop does not happen: that, or sig is SIGTSTP, SIGTTIN or SIGTTOU
	// and the process group is orphaned (POSIX discards them then).
	StopSelf(sig int32, contSeq uint64) (stopped bool, err error)
}

// jobHost returns the kernel's JobHost, if its Host is one.
func (p *Process) jobHost() (JobHost, bool) {
	if p.Kernel == nil || p.Kernel.Host == nil {
		return nil, false
	}
	jh, ok := p.Kernel.Host.(JobHost)
	return jh, ok
}

// stopForSignal applies the default action of a stop signal dequeued
// with contSeq: the process stops until continued. A signal that
// interrupted a syscall restarts it afterwards (restartWithoutHandler), as
// on Linux, unless a handler runs first.
func (t *Task) stopForSignal(sig int, contSeq uint64) {
	jh, ok := t.Proc.jobHost()
	if !ok {
		t.Log.Debug("stop signal ignored: no job control host", "sig", sig)
		return
	}
	stopped, err := jh.StopSelf(int32(sig), contSeq)
	if err != nil {
		t.Log.Debug("stop failed", "sig", sig, "error", err)
		return
	}
	t.Log.Debug("stop signal", "sig", sig, "stopped", stopped)
}

// prepareSignalLocked applies Linux's rule at the generation of sig
// (prepare_signal): a stop signal discards pending SIGCONTs and SIGCONT
// discards pending stop signals, in every queue of the process (and of
// to, the thread it is queued for, registered or not).
// Preconditions: s.mu held.
func (s *SignalHandlers) prepareSignalLocked(sig int, to *Task) {
	var drop abi.SigSet
	switch {
	case sig == abi.SIGCONT:
		drop = stopSignals
	case stopSignals.Has(sig):
		drop = abi.SigSetOf(abi.SIGCONT)
	default:
		return
	}
	s.shared.flush(drop)
	for t := range s.tasks {
		t.SigState.pending.flush(drop)
	}
	if to != nil {
		to.SigState.pending.flush(drop)
	}
}

// ContinueFrom takes in a SIGCONT the supervisor sent with sequence
// number seq, then queues it like SignalFrom. Recording seq and
// discarding pending stop signals happen under the signal lock, so a stop
// signal dequeued before it carries an older sequence number and the
// supervisor knows to cancel that stop. It may be called from any
// goroutine.
func (p *Process) ContinueFrom(info *abi.Siginfo, seq uint64, thread bool) {
	s := p.sigHandlers()
	s.mu.Lock()
	if seq > s.contSeq {
		s.contSeq = seq
	}
	s.prepareSignalLocked(abi.SIGCONT, nil)
	s.mu.Unlock()
	p.SignalFrom(info, thread)
}

// TerminalHost is the part of a Host that owns the foreground process
// group of elfuse's controlling terminal, in guest process group ids.
// guestproc implements it; without it the terminal ioctls reach the host
// terminal as they are.
type TerminalHost interface {
	// Tcgetpgrp returns the foreground group (0: one outside the
	// namespace).
	Tcgetpgrp() (int32, error)
	// Tcsetpgrp makes pgid the foreground group (ESRCH, EPERM as
	// tcsetpgrp(3)).
	Tcsetpgrp(pgid int32) error
}

// controllingTerminal returns the TerminalHost when host descriptor h is
// the guestproc's controlling terminal (the terminal's session is the
// guestproc's own), whose foreground group is kept in guest terms.
func (t *Task) controllingTerminal(h int) (TerminalHost, bool) {
	if t.Proc.Kernel == nil {
		return nil, false
	}
	th, ok := t.Proc.Kernel.Host.(TerminalHost)
	if !ok {
		return nil, false
	}
	sid, err := unix.IoctlGetInt(h, unix.TIOCGSID)
	if err != nil {
		return nil, false
	}
	own, err := unix.Getsid(0)
	if err != nil || own != sid {
		return nil, false
	}
	return th, true
}
