package kernel

import (
	"fmt"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// maxDeliveriesPerExit bounds the frames pushed at one return to the
// guest; Linux has no bound, this only guards against a runaway loop.
const maxDeliveriesPerExit = 1 << 12

// restart codes as the guest would see them in rax.
var (
	raxERESTARTSYS    = negErrno(abi.ERESTARTSYS)
	raxERESTARTNOINTR = negErrno(abi.ERESTARTNOINTR)
	raxERESTARTNOHAND = negErrno(abi.ERESTARTNOHAND)
	raxERESTARTBLOCK  = negErrno(abi.ERESTART_BLOCK)
	raxEINTR          = negErrno(abi.EINTR)
)

// delivery is one signal chosen for delivery and how to handle it.
type delivery struct {
	info abi.Siginfo
	act  abi.Sigaction // the action as it was when dequeued
	// contSeq is the process's SIGCONT sequence number at the dequeue.
	contSeq uint64
}

// DeliverSignals runs after every exit, before the guest resumes. It
// settles a syscall that asked to be restarted, then delivers every
// deliverable pending signal: a handler gets a frame (the last one
// delivered runs first, as on Linux), a default action may end the
// process. Without a handler an interrupted syscall restarts, so the
// ERESTART* codes never reach the guest.
//
// A stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) with its default
// action stops the whole process until SIGCONT (jobctl.go); delivery then
// goes on with whatever became pending meanwhile.
func (t *Task) DeliverSignals() {
	t.Proc.sigHandlers()
	t.register()
	regs := t.CPU.Regs()
	fromSyscall := t.OrigRAX != noSyscall
	defer func() { t.OrigRAX = noSyscall }()
	defer t.settleInterrupt()

	for range maxDeliveriesPerExit {
		if done, _ := t.Proc.Exited(); done {
			return
		}
		d, ok := t.nextDelivery()
		if !ok {
			break
		}
		if t.tracing() {
			t.traceSignal(&d.info)    // trace_signal.go
			t.traceOutSignal(&d.info) // traceout_task.go
		}
		sig := int(d.info.Signo)
		switch d.act.Handler {
		case abi.SIG_IGN:
			continue
		case abi.SIG_DFL:
			switch defaultAction(sig) {
			case actIgnore:
				continue
			case actStop:
				t.stopForSignal(sig, d.contSeq)
				continue
			}
			if sig == abi.SIGKILL && t.thread.zap.Load() {
				return // another thread's execve ends this one alone
			}
			t.Log.Debug("killed by signal", "sig", sig, "code", d.info.Code,
				"rip", hexAddr(regs.RIP))
			t.Proc.exitGroup(deathStatus(sig))
			return
		}
		if fromSyscall {
			restartWithHandler(regs, t.OrigRAX, d.act.Flags)
			fromSyscall = false
		}
		t.handleSignal(&d)
	}

	if fromSyscall {
		restartWithoutHandler(regs, t.OrigRAX)
	}
	// Nothing took the mask sigsuspend saved: put it back.
	s := t.Proc.Signals
	s.mu.Lock()
	if t.SigState.restoreMask {
		t.SigMask = uint64(t.SigState.savedMask)
		t.SigState.restoreMask = false
	}
	s.mu.Unlock()
}

// nextDelivery dequeues the next signal that is not blocked and returns it
// with its action, applying SA_RESETHAND.
func (t *Task) nextDelivery() (delivery, bool) {
	s := t.Proc.Signals
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := t.dequeueLocked(abi.SigSet(t.SigMask))
	if !ok {
		return delivery{}, false
	}
	act := &s.actions[info.Signo-1]
	d := delivery{info: info, act: *act, contSeq: s.contSeq}
	if act.Handler != abi.SIG_DFL && act.Handler != abi.SIG_IGN && act.Flags&abi.SA_RESETHAND != 0 {
		act.Handler = abi.SIG_DFL
	}
	return d, true
}

// handleSignal builds the frame for a caught signal and updates the mask,
// or forces SIGSEGV when the frame cannot be written.
func (t *Task) handleSignal(d *delivery) {
	sig := int(d.info.Signo)
	s := t.Proc.Signals
	s.mu.Lock()
	oldMask := abi.SigSet(t.SigMask)
	if t.SigState.restoreMask {
		oldMask = t.SigState.savedMask
	}
	s.mu.Unlock()

	if err := t.setupRtFrame(sig, &d.info, &d.act, oldMask); err != nil {
		t.Log.Debug("cannot build signal frame; forcing SIGSEGV", "sig", sig, "error", err)
		t.forceSigsegv(sig)
		return
	}

	s.mu.Lock()
	// The handler runs under the current (possibly sigsuspend's
	// temporary) mask plus sa_mask; the frame holds the mask to return to.
	mask := abi.SigSet(t.SigMask) | d.act.Mask
	t.SigState.restoreMask = false
	if d.act.Flags&abi.SA_NODEFER == 0 {
		mask |= abi.SigBit(sig)
	}
	t.SigMask = uint64(mask &^ abi.UnblockableSignals)
	if t.AltStack.Flags&abi.SS_AUTODISARM != 0 {
		t.AltStack = abi.StackT{Flags: abi.SS_DISABLE}
	}
	s.mu.Unlock()
}

// restartWithHandler applies Linux's rule for a syscall interrupted by a
// signal that has a handler: ERESTARTNOHAND and ERESTART_RESTARTBLOCK
// become EINTR, ERESTARTSYS restarts only with SA_RESTART, ERESTARTNOINTR
// always restarts.
func restartWithHandler(regs *hvf.Regs, origRAX, saFlags uint64) {
	switch regs.RAX {
	case raxERESTARTNOHAND, raxERESTARTBLOCK:
		regs.RAX = raxEINTR
	case raxERESTARTSYS:
		if saFlags&abi.SA_RESTART == 0 {
			regs.RAX = raxEINTR
			return
		}
		restart(regs, origRAX)
	case raxERESTARTNOINTR:
		restart(regs, origRAX)
	}
}

// restartWithoutHandler settles a syscall that returned ERESTART* when no
// handler runs: it restarts. ERESTART_RESTARTBLOCK would restart through
// restart_syscall(2) on Linux; no syscall here keeps a restart block, so it
// becomes EINTR.
func restartWithoutHandler(regs *hvf.Regs, origRAX uint64) {
	switch regs.RAX {
	case raxERESTARTNOHAND, raxERESTARTSYS, raxERESTARTNOINTR:
		restart(regs, origRAX)
	case raxERESTARTBLOCK:
		regs.RAX = raxEINTR
	}
}

// restart makes the guest execute the same SYSCALL again: RIP is the
// return address after the 2-byte instruction on every backend.
func restart(regs *hvf.Regs, origRAX uint64) {
	regs.RAX = origRAX
	regs.RIP -= 2
}

// hexAddr formats a register for logs.
func hexAddr(v uint64) string { return fmt.Sprintf("%#x", v) }
