package supervisor

// Fork tickets a child leaves its parent itself (ipc/childexit.go): its
// guestproc told the parent of the exit over their fork socket, offered
// that socket as the parent's ticket, and waits on it for the parent's
// next fork image. Its Exited says so (TicketFor); the supervisor then
// holds the ticket for the parent as it would one it made
// (recycleAsTicket), with no socket of its own: the spare's Start carries
// no descriptor and only hands the control socket to the spare's next
// life. The parent's fork on it names the child (OpFork Pid) and may come
// before that Exited: it waits for it (awaitTicketFrom).

// directTicket holds the ticket fork child g left parent ppid as its
// process ended (Exited.TicketFor). When the parent's process ended first
// (its end of the socket is closed: g reads EOF) g goes to the pool
// instead, and the ticket is nil. lives false: g must end (the parent,
// alive, may stream an image to it, but holds a ticket already or
// maxTickets are out).
func (s *supervisor) directTicket(g *guestproc, ppid int32) (t *ticket, lives bool) {
	s.mu.Lock()
	pg := s.gps[ppid]
	s.mu.Unlock()
	parent, ok := s.tree.Parent(g.pid)
	if !ok || pg == g {
		return nil, false
	}
	if parent != ppid || pg == nil {
		return nil, s.poolUnusedTicket(g, ppid) // reparented: the parent ended
	}
	if !s.ticketTaken() {
		return nil, false
	}
	pg.ticketMu.Lock()
	if pg.ticket.over {
		pg.ticketMu.Unlock()
		s.ticketGone()
		return nil, s.poolUnusedTicket(g, ppid)
	}
	var sp *guestprocHandle
	if pg.ticket.held == nil {
		sp = s.detach(g)
	}
	if sp == nil {
		pg.ticketMu.Unlock()
		s.ticketGone()
		return nil, false
	}
	t = &ticket{spare: sp, parent: ppid, from: g.pid}
	pg.ticket.held = t
	pg.ticketMu.Unlock()
	return t, true
}

// poolUnusedTicket makes g, which waits on a ticket whose parent's
// process ended, a spare of the pool: its Start hands its control socket
// to the life that reads EOF on the ticket and then waits for a Start of
// the pool. false when g could not be detached.
func (s *supervisor) poolUnusedTicket(g *guestproc, ppid int32) bool {
	sp := s.detach(g)
	if sp == nil {
		return false
	}
	t := &ticket{spare: sp, parent: ppid, from: g.pid}
	if t.start(s) {
		s.returnSpare(sp)
	}
	return true
}

// awaitTicketFrom waits, for a fork of g on the ticket child pid left it,
// until the supervisor has handled that child's Exited (it may still be
// on its way: the parent heard of the exit first).
func (s *supervisor) awaitTicketFrom(g *guestproc, pid int32) {
	if !s.tree.Ending(pid, g.pid) {
		return // handled: the ticket is held, or was not kept
	}
	s.mu.Lock()
	c := s.gps[pid]
	s.mu.Unlock()
	if c != nil {
		<-c.exitDone
	}
}

// exitHandled marks g's Exited handled, once (awaitTicketFrom).
func (g *guestproc) exitHandled() {
	g.exitOnce.Do(func() { close(g.exitDone) })
}

// startFDs is what a ticket's Start carries: its fork socket, or none
// for a ticket the spare left its parent itself.
func (t *ticket) startFDs() []int {
	if t.theirs == nil {
		return nil
	}
	return []int{t.theirs.FD()}
}
