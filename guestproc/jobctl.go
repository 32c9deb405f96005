package guestproc

import (
	"os"
	"os/signal"
	"sync/atomic"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// jobState is the guestproc's part of job control.
type jobState struct {
	// earlyCont is the newest SIGCONT sequence number that arrived
	// before the kernel process existed (it could not take it in).
	earlyCont atomic.Uint64
	// tty is the last terminal-access verdict that needs no asking
	// (jobgen.go).
	tty ttyCache
	// guestTTY is the same for the terminals guest sessions take.
	guestTTY ttyCache
}

// StopSelf implements kernel.JobHost: the supervisor stops this host
// process (SIGSTOP) before it replies, so the call returns once the
// process has been continued.
func (h *host) StopSelf(sig int32, contSeq uint64) (bool, error) {
	h.sendComm()     // a PR_SET_NAME name shows in the stopped process's /proc
	h.sendSnapshot() // and so do its descriptors, maps, masks... (procfs_snapshot.go)
	r, err := h.call(ipc.Request{Op: ipc.OpStop, Sig: sig, Seq: max(contSeq, h.job.earlyCont.Load())})
	return r.Self, err
}

// continueSignal passes on a SIGCONT from the supervisor with its
// sequence number (kept for StopSelf when there is no process yet).
func (h *host) continueSignal(s ipc.Signal, info *abi.Siginfo) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		for {
			old := h.job.earlyCont.Load()
			if s.Seq <= old || h.job.earlyCont.CompareAndSwap(old, s.Seq) {
				return
			}
		}
	}
	p.ContinueFrom(info, s.Seq, s.Thread)
}

// jobSignals are the terminal's job-control signals a guestproc catches
// and passes on, in addition to hostSignals: the guest applies their
// default action (a stop through the supervisor) or its handler.
var jobSignals = []os.Signal{unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU}

// forHostGroup reports whether a host signal that reached this guestproc
// is for its guest process. Host signals come from the terminal (to its
// foreground group) or from a killpg of elfuse's host group: both mean
// the guest processes of the group elfuse's host group stands for; one
// that moved to another group (a shell's job) must not get them. The
// supervisor sends pid 1 what elfuse gets for itself through the control
// socket instead. Without a supervisor to ask, every signal passes.
func forHostGroup(t *kernel.Task, sig int) bool {
	h, ok := t.Proc.Kernel.Host.(*host)
	if !ok {
		return true
	}
	r, err := h.call(ipc.Request{Op: ipc.OpHostGroup, Sig: int32(sig)})
	if err != nil {
		return true
	}
	return r.Self
}

// holdTerminalSignals ignores the terminal's signals until forwardSignals
// takes them: a guestproc shares elfuse's host process group, so a ^C or
// ^\ typed while it starts, or while it waits as a warm spare with no
// guest at all, would otherwise end it with the Go runtime's default
// action (SIGQUIT even dumps its goroutines on the terminal).
//
// Once forwardSignals has its signal.Notify, the forwarder drops them
// itself between processes: an Ignore now would undo that Notify.
func holdTerminalSignals() {
	if fwd.started.Load() {
		return
	}
	signal.Ignore(unix.SIGINT, unix.SIGQUIT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGWINCH)
}

// Tcgetpgrp and Tcsetpgrp implement kernel.TerminalHost.
func (h *host) Tcgetpgrp() (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpTcgetpgrp})
	return r.Pid, err
}

func (h *host) Tcsetpgrp(pgid int32) error {
	_, err := h.call(ipc.Request{Op: ipc.OpTcsetpgrp, Pgid: pgid})
	return err
}

// TTYAccess implements kernel.TTYAccessHost.
//
// A "go ahead" is reused while the supervisor's job-control generation
// stands still, so a foreground shell reading its terminal byte by byte
// asks once, not for every byte (~250 µs each here).
func (h *host) TTYAccess(sig int32, ignored bool) (bool, error) {
	gen, hit, ok := h.job.tty.lookup(sig, ignored)
	if hit {
		return false, nil
	}
	r, err := h.call(ipc.Request{Op: ipc.OpTTYAccess, Sig: sig, Flag: ignored})
	if ok && err == nil && !r.Self && r.Code == ipc.TTYGoAhead {
		// gen was read before asking: a change meanwhile makes the next
		// access ask again.
		h.job.tty.remember(gen, sig, ignored)
	}
	return r.Self, err
}

// Tcgetsid implements kernel.TerminalSessionHost.
func (h *host) Tcgetsid() (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpTcgetsid})
	return r.Pid, err
}

// TTYDetach implements kernel.TerminalDetachHost.
func (h *host) TTYDetach() (bool, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpTTYDetach})
	return r.Self, err
}

// GuestTTY implements kernel.GuestTTYHost.
func (h *host) GuestTTY(op int32, dev uint64, pgid int32, steal bool) (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpGuestTTY, Options: op, Seq: dev, Pgid: pgid, Flag: steal})
	return r.Pid, err
}

// GuestTTYAccess implements kernel.GuestTTYSignalHost. A "go ahead"
// holds until the job-control generation moves (as TTYAccess's): reads of
// a pseudo-terminal follower ask once, not every time.
func (h *host) GuestTTYAccess(dev uint64, sig int32, ignored bool) (bool, error) {
	gen, hit, ok := h.job.guestTTY.lookupDev(dev, sig, ignored)
	if hit {
		return false, nil
	}
	r, err := h.call(ipc.Request{Op: ipc.OpGuestTTY, Options: ipc.GuestTTYAccess, Seq: dev, Pgid: sig, Flag: ignored})
	if ok && err == nil && !r.Self {
		h.job.guestTTY.rememberDev(gen, dev, sig, ignored)
	}
	return r.Self, err
}

// GuestTTYSignal implements kernel.GuestTTYSignalHost.
func (h *host) GuestTTYSignal(dev uint64, sig int32) (bool, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpGuestTTY, Options: ipc.GuestTTYSignal, Seq: dev, Pgid: sig})
	return r.Self, err
}
