package supervisor

// A fork child that never started: its guestproc died (a spare killed
// from outside, the host's OOM killer) after the supervisor gave the
// parent its pid but before the child had its image. The parent's fork
// gives up on that pid (and tries another guestproc), so nothing of the
// child may reach the parent: no exit, no SIGCHLD, no wait report. The
// parent says so with OpUnfork; the child's serve, which would report the
// end of a guestproc that said nothing as a SIGKILL, discards it instead.
// Whichever comes first, the child's zombie does not survive: serve checks
// the mark before reporting and again after, and OpUnfork reaps a zombie
// already reported.

// unfork handles OpUnfork from parent for its child pid.
func (s *supervisor) unfork(parent, pid int32) {
	p, ok := s.tree.Get(pid)
	if !ok || p.Ppid != parent {
		return
	}
	s.mu.Lock()
	if _, serving := s.gps[pid]; serving {
		if s.unborn == nil {
			s.unborn = map[int32]int32{}
		}
		s.unborn[pid] = parent
	}
	s.mu.Unlock()
	s.tree.Reap(parent, pid) // reported already: the zombie goes
}

// unbornParent returns the parent of pid when it gave pid up (OpUnfork).
func (s *supervisor) unbornParent(pid int32) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, ok := s.unborn[pid]
	return parent, ok
}
