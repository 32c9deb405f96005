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

// ttyAccess answers ipc.OpTTYAccess from pid: a guest process outside
// the foreground group that reads (sig SIGTTIN) or, the terminal having
// TOSTOP, writes or sets up the terminal (SIGTTOU) gets sig sent to its
// whole group (self: the caller queues its own copy and restarts the
// call), unless it ignores or blocks sig (ignored): a read then fails
// with EIO, the rest goes ahead. An orphaned group gets EIO. While
// elfuse's host group is not the terminal's foreground, the host
// terminal does the same for every guest process, so nothing is added.
func (s *supervisor) ttyAccess(pid, sig int32, ignored bool) (self bool, err error) {
	if sig != abi.SIGTTIN && sig != abi.SIGTTOU {
		return false, abi.EINVAL
	}
	if r := s.job.relay; r == nil || r.tty == nil || !r.inForeground() {
		return false, nil
	}
	p, ok := s.tree.Get(pid)
	if !ok {
		return false, abi.ESRCH
	}
	if p.Pgid == s.foreground() {
		return false, nil
	}
	if ignored {
		if sig == abi.SIGTTIN {
			return false, abi.EIO
		}
		return false, nil
	}
	if s.tree.PgrpOrphaned(p.Pgid, hostGroupOrphaned) {
		return false, abi.EIO
	}
	// kill_pgrp(pgrp, sig, 1): sent by the kernel.
	info := abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL}
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	s.log.Debug("background terminal access", "pid", pid, "pgid", p.Pgid, "sig", sig)
	return s.kill(pid, &ipc.Request{Pid: 0, Sig: sig, Info: b})
}
