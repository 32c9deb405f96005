package supervisor

// Controlling terminals a guest session takes itself (TIOCSCTTY on a
// pseudo-terminal it opened, as script and expect do). Guest sessions
// exist only here (a guestproc stays in elfuse's host session), so the
// host cannot make the terminal theirs; the supervisor keeps which
// session owns which terminal, named by the follower's device number,
// and that terminal's foreground group, in guest terms. A session owns
// its terminal while its leader lives, as Linux drops the controlling
// terminal when the leader exits.

import (
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// guestTTYs are the terminals guest sessions took (guarded by
// jobControl.mu).
type guestTTYs struct {
	ctty map[int32]uint64 // session → terminal
	fg   map[uint64]int32 // terminal → foreground group
}

// ptyOwnerLocked returns the live session owning terminal dev (0: none);
// it forgets a session whose leader is gone.
func (s *supervisor) ptyOwnerLocked(dev uint64) int32 {
	for sid, d := range s.job.ptys.ctty {
		if d != dev {
			continue
		}
		if s.tree.InSession(sid, sid) {
			return sid
		}
		delete(s.job.ptys.ctty, sid) // its leader is gone
	}
	return 0
}

// guestTTYOp answers ipc.OpGuestTTY from caller (reply Pid and Self).
func (s *supervisor) guestTTYOp(caller int32, req *ipc.Request) (pid int32, self bool, err error) {
	switch req.Options {
	case ipc.GuestTTYSignal:
		self, err = s.guestTTYSignal(caller, req.Seq, req.Pgid)
	case ipc.GuestTTYAccess:
		self, err = s.guestTTYAccess(caller, req.Seq, req.Pgid, req.Flag)
	default:
		pid, err = s.guestTTY(caller, req)
	}
	return pid, self, err
}

// guestTTY answers ipc.OpGuestTTY from caller: req.Options is the
// request (ipc.GuestTTY*), req.Seq the terminal's device number.
func (s *supervisor) guestTTY(caller int32, req *ipc.Request) (int32, error) {
	p, ok := s.tree.Get(caller)
	if !ok {
		return 0, abi.ESRCH
	}
	dev := req.Seq
	s.job.mu.Lock()
	defer s.job.mu.Unlock()
	if s.job.ptys.ctty == nil {
		s.job.ptys.ctty, s.job.ptys.fg = map[int32]uint64{}, map[uint64]int32{}
	}
	owner := s.ptyOwnerLocked(dev)
	if req.Options == ipc.GuestTTYTake {
		// Linux's tiocsctty.
		if owner == p.Sid && p.Pid == p.Sid {
			return 0, nil
		}
		if p.Pid != p.Sid {
			return 0, abi.EPERM
		}
		if _, has := s.job.ptys.ctty[p.Sid]; has && s.ptyOwnerLocked(s.job.ptys.ctty[p.Sid]) == p.Sid {
			return 0, abi.EPERM
		}
		if p.Sid == terminalSession() && !s.job.detached.Load() {
			return 0, abi.EPERM // it has elfuse's terminal
		}
		if owner != 0 {
			if !req.Flag {
				return 0, abi.EPERM
			}
			delete(s.job.ptys.ctty, owner)
		}
		s.job.ptys.ctty[p.Sid] = dev
		s.job.ptys.fg[dev] = p.Pgid
		return 0, nil
	}
	if req.Flag && (req.Options == ipc.GuestTTYGetpgrp || req.Options == ipc.GuestTTYGetsid) {
		// Asked through the leader side, which answers any caller for
		// its follower (Linux's tiocgpgrp and tiocgsid on a pty master):
		// no group (0) and ENOTTY when no session owns it.
		if owner == 0 {
			if req.Options == ipc.GuestTTYGetsid {
				return 0, abi.ENOTTY
			}
			return 0, nil
		}
		if req.Options == ipc.GuestTTYGetsid {
			return visible(owner), nil
		}
		return visible(s.job.ptys.fg[dev]), nil
	}
	if owner == 0 || owner != p.Sid {
		return 0, abi.ENOTTY
	}
	switch req.Options {
	case ipc.GuestTTYGetpgrp:
		return visible(s.job.ptys.fg[dev]), nil
	case ipc.GuestTTYGetsid:
		return owner, nil
	case ipc.GuestTTYSetpgrp:
		pg, err := s.tree.ForegroundGroup(caller, req.Pgid)
		if err != nil {
			return 0, err
		}
		s.job.ptys.fg[dev] = pg
		return 0, nil
	}
	return 0, abi.EINVAL
}

// guestTTYSignal sends sig to the foreground group of the terminal a guest
// session took (device number dev), as Linux's n_tty does for a typed
// VINTR, VQUIT or VSUSP and pty_resize for SIGWINCH: kill_pgrp(pgrp, sig,
// 1), SI_KERNEL. The host cannot: no host session owns the terminal.
// Nothing happens when no live session owns dev. self: caller is in the
// group and queues sig itself.
func (s *supervisor) guestTTYSignal(caller int32, dev uint64, sig int32) (self bool, err error) {
	if sig <= 0 || sig > abi.NSIG {
		return false, abi.EINVAL
	}
	s.job.mu.Lock()
	var fg int32
	if s.job.ptys.ctty != nil && s.ptyOwnerLocked(dev) != 0 {
		fg = s.job.ptys.fg[dev]
	}
	s.job.mu.Unlock()
	if fg == 0 {
		return false, nil
	}
	return s.kernelSignalGroup(caller, fg, sig), nil // jobctl_tty.go
}

// guestTTYAccess applies job control to caller's access to the terminal a
// guest session took (device number dev), as ttyAccess does for elfuse's:
// a caller in that session but outside its foreground group that reads
// (SIGTTIN) or, the terminal having TOSTOP, writes or sets it up (SIGTTOU)
// gets sig sent to its group (self: it queues its own copy and restarts),
// or EIO when it ignores SIGTTIN or its group is orphaned. Callers of
// other sessions, and terminals no session owns, go ahead.
func (s *supervisor) guestTTYAccess(caller int32, dev uint64, sig int32, ignored bool) (self bool, err error) {
	if sig != abi.SIGTTIN && sig != abi.SIGTTOU {
		return false, abi.EINVAL
	}
	s.job.mu.Lock()
	var owner, fg int32
	if s.job.ptys.ctty != nil {
		owner = s.ptyOwnerLocked(dev)
		fg = s.job.ptys.fg[dev]
	}
	s.job.mu.Unlock()
	if owner == 0 {
		return false, nil
	}
	// The whole session is in the guest: a parent outside it never keeps
	// a group from being orphaned.
	v, err := s.tree.TTYAccess(caller, owner, fg, sig, ignored, func() bool { return true })
	switch {
	case err != nil:
		return false, err
	case v == TTYFail:
		return false, abi.EIO
	case v == TTYGoAhead:
		return false, nil
	}
	info := abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL}
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	return s.kill(caller, &ipc.Request{Pid: 0, Sig: sig, Info: b})
}
