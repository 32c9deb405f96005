package supervisor

// Background access to the terminal. Every guestproc is in elfuse's host
// process group, so while that group is the host terminal's foreground
// the host kernel lets any guest process read and write it; the guest's
// own foreground group (tcsetpgrp) is known only here. ttyAccess applies
// Linux's tty_check_change and n_tty's job_control in guest terms.

import (
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// ttyAccess answers ipc.OpTTYAccess from pid (see Tree.TTYAccess): a
// guest process outside the foreground group that reads (sig SIGTTIN)
// or, the terminal having TOSTOP, writes or sets up the terminal
// (SIGTTOU) gets sig sent to its whole group (self: the caller queues
// its own copy and restarts the call). While elfuse's host group is not
// the terminal's foreground, the host terminal does the same for every
// guest process, so nothing is added.
//
// goAhead reports the plain "go ahead" verdict, which the caller may reuse
// until the job-control generation moves (jobgen.go).
func (s *supervisor) ttyAccess(pid, sig int32, ignored bool) (self, goAhead bool, err error) {
	if sig != abi.SIGTTIN && sig != abi.SIGTTOU {
		return false, false, abi.EINVAL
	}
	if r := s.job.relay; r == nil || r.tty == nil || !r.inForeground() || s.job.detached.Load() {
		return false, true, nil
	}
	fg := s.foreground()
	v, err := s.tree.TTYAccess(pid, terminalSession(), fg, sig, ignored, hostGroupOrphaned)
	if s.log.IsDebug() {
		s.log.Debug("background terminal access", "pid", pid, "sig", sig, "fg", fg, "ignored", ignored, "verdict", v, "error", err)
	}
	switch {
	case err != nil:
		return false, false, err
	case v == TTYFail:
		return false, false, abi.EIO
	case v == TTYGoAhead:
		return false, true, nil
	}
	// kill_pgrp(pgrp, sig, 1): sent by the kernel.
	info := abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL}
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	self, err = s.kill(pid, &ipc.Request{Pid: 0, Sig: sig, Info: b})
	return self, false, err
}

// terminalSession is the guest session whose controlling terminal is
// elfuse's: pid 1's own when elfuse leads its session, else the outside
// one. A guest process that left it by setsid has no controlling
// terminal, as on Linux.
func terminalSession() int32 {
	if hostLeads().Session {
		return 1
	}
	return OutsideSession
}

// ownsTerminal checks that elfuse's terminal is caller's controlling
// terminal, that is that caller is in terminalSession: ENOTTY otherwise,
// as Linux's tiocgpgrp, tiocspgrp and tiocgsid answer a process whose
// controlling terminal it is not (one that left by setsid).
func (s *supervisor) ownsTerminal(caller int32) error {
	if s.job.detached.Load() || !s.tree.InSession(caller, terminalSession()) {
		return abi.ENOTTY
	}
	return nil
}

// tcgetsid answers ipc.OpTcgetsid: the terminal's session as caller sees
// it (0 for the session outside the namespace).
func (s *supervisor) tcgetsid(caller int32) (int32, error) {
	if err := s.ownsTerminal(caller); err != nil {
		return 0, err
	}
	return visible(terminalSession()), nil
}

// ttyDetach answers ipc.OpTTYDetach from caller (TIOCNOTTY): ENOTTY when
// the terminal is not its controlling terminal. A non-leader only loses
// it, which its guestproc does on the host. The session leader takes it
// from the whole session, and the foreground group gets SIGHUP and
// SIGCONT as from Linux's disassociate_ctty; self: caller is in that
// group and queues both itself.
func (s *supervisor) ttyDetach(caller int32) (self bool, err error) {
	if err := s.ownsTerminal(caller); err != nil {
		return false, err
	}
	if caller != terminalSession() {
		return false, nil
	}
	fg := s.foreground()
	s.job.detached.Store(true)
	if r := s.job.relay; fg == OutsideGroup || r != nil && r.tty != nil && !r.inForeground() {
		return false, nil // the terminal's foreground is outside the guest
	}
	for _, sig := range []int32{abi.SIGHUP, abi.SIGCONT} {
		self = s.kernelSignalGroup(caller, fg, sig) || self
	}
	return self, nil
}

// kernelSignalGroup sends sig to every live member of process group pgid
// as from the kernel (SI_KERNEL, Linux's kill_pgrp(pgrp, sig, 1)) and
// reports whether caller is among them (it then queues sig itself).
func (s *supervisor) kernelSignalGroup(caller, pgid, sig int32) (self bool) {
	info := abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL}
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	// One by one: group 1 cannot be named as kill(-1, ...).
	for _, p := range s.tree.Snapshot() {
		if p.State == Zombie || p.Pgid != pgid {
			continue
		}
		me, err := s.kill(caller, &ipc.Request{Pid: p.Pid, Sig: sig, Info: b})
		if err != nil {
			s.log.Debug("terminal signal not sent", "pid", p.Pid, "sig", sig, "error", err)
		}
		self = self || me
	}
	return self
}
