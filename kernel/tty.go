package kernel

// Job control at the controlling terminal: Linux's tty_check_change and
// n_tty's job_control. A process outside the terminal's foreground group
// that reads it gets SIGTTIN, sent to its whole group, and the read is
// restarted once it runs again (ERESTARTSYS); a write, when the terminal
// has TOSTOP, and a change of the terminal's settings get SIGTTOU the same
// way; sendfile, splice and copy_file_range count as a read of their
// input and a write of their output, since Linux copies through the tty's
// own read and write. The foreground group is the supervisor's
// (TTYAccessHost), so only a descriptor that is a terminal, and the
// caller's controlling one, pays the round trip; whether an open file is
// a terminal is asked once.

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// TTYAccessHost is the part of a Host that decides a background access to
// the controlling terminal. guestproc implements it; without it every
// access goes ahead.
type TTYAccessHost interface {
	// TTYAccess applies the rule for sig (SIGTTIN for a read, SIGTTOU
	// otherwise) to the caller; ignored says it ignores or blocks sig.
	// self: sig was sent to the caller's group but not queued for the
	// caller, who must queue it and restart. An error (EIO) fails the
	// access; neither lets it go ahead.
	TTYAccess(sig int32, ignored bool) (self bool, err error)
}

// isTerminal reports whether the file is a terminal. Regular files,
// directories and sockets answer from their cached kind; others ask the
// host (TCGETS) once and keep the answer in the file.
func (h *HostFile) isTerminal() bool {
	if h.waitKind() != kindMayBlock {
		return false
	}
	switch h.tty.Load() {
	case 1:
		return false
	case 2:
		return true
	}
	_, err := unix.IoctlGetTermios(h.fd, unix.TCGETS)
	if err != nil {
		h.tty.Store(1)
		return false
	}
	h.tty.Store(2)
	return true
}

// ttyAccessHost returns the kernel's TTYAccessHost when f is the
// caller's controlling terminal (elfuse's), or the one that decides for a
// pseudo-terminal follower a guest session may have taken.
func (t *Task) ttyAccessHost(f *HostFile) (TTYAccessHost, bool) {
	if !f.isTerminal() || t.Proc.Kernel == nil {
		return nil, false
	}
	th, ok := t.Proc.Kernel.Host.(TTYAccessHost)
	if !ok {
		return nil, false
	}
	if _, ok := t.controllingTerminal(f.FD()); !ok {
		return t.guestTTYAccessHost(f) // pty_signal.go
	}
	return th, true
}

// ttyCheck applies the rule for sig to an access to f: nil lets it go
// ahead, ERESTARTSYS after the signal was sent, EIO when it fails.
func (t *Task) ttyCheck(f *HostFile, sig int) error {
	th, ok := t.ttyAccessHost(f)
	if !ok {
		return nil
	}
	return t.ttyAsk(th, sig)
}

// ttyAsk asks th about sig and queues the caller's copy of the signal.
func (t *Task) ttyAsk(th TTYAccessHost, sig int) error {
	self, err := th.TTYAccess(int32(sig), t.ignoresOrBlocks(sig))
	if err != nil {
		return err
	}
	if !self {
		return nil
	}
	if err := t.Proc.queueShared(t, &abi.Siginfo{Signo: int32(sig), Code: abi.SI_KERNEL}); err != nil {
		return err
	}
	return abi.ERESTARTSYS
}

// ttyReadCheck applies job control to a read of f (SIGTTIN).
func (t *Task) ttyReadCheck(f *HostFile) error { return t.ttyCheck(f, abi.SIGTTIN) }

// ttyWriteCheck applies job control to a write to f: SIGTTOU, only when
// the terminal has TOSTOP.
func (t *Task) ttyWriteCheck(f *HostFile) error {
	th, ok := t.ttyAccessHost(f)
	if !ok {
		return nil
	}
	tio, err := unix.IoctlGetTermios(f.FD(), unix.TCGETS)
	if err != nil || tio.Lflag&unix.TOSTOP == 0 {
		return nil
	}
	return t.ttyAsk(th, abi.SIGTTOU)
}

// ignoresOrBlocks is Linux's is_ignored for the terminal's signals: the
// calling thread blocks sig or its handler is SIG_IGN.
func (t *Task) ignoresOrBlocks(sig int) bool {
	s := t.Proc.sigHandlers()
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.blocksLocked(sig) || s.actions[sig-1].Handler == abi.SIG_IGN
}
