package supervisor

import "github.com/elfuse/elfuse/kernel/abi"

// ctty answers ipc.OpCtty from caller: which terminal open("/dev/tty")
// opens for it, as Linux's tty_open_current_tty. own: elfuse's terminal,
// while caller is in the session it belongs to (the host open then says
// whether there is one at all); dev: the pseudo-terminal follower its
// session took (TIOCSCTTY); neither: no controlling terminal (ENXIO).
func (s *supervisor) ctty(caller int32) (own bool, dev uint64, err error) {
	p, ok := s.tree.Get(caller)
	if !ok {
		return false, 0, abi.ESRCH
	}
	if s.ownsTerminal(caller) == nil {
		return true, 0, nil
	}
	s.job.mu.Lock()
	defer s.job.mu.Unlock()
	if d, ok := s.job.ptys.ctty[p.Sid]; ok && s.ptyOwnerLocked(d) == p.Sid {
		return false, d, nil
	}
	return false, 0, nil
}
