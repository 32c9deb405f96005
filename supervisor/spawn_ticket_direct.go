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
// process ended (Exited.TicketFor). nil: not held, when the parent is no
// longer g's or holds a ticket already, or maxTickets are out; the caller
// then ends g, which the parent may stream an image to.
func (s *supervisor) directTicket(g *guestproc, ppid int32) *ticket {
	if parent, ok := s.tree.Parent(g.pid); !ok || parent != ppid {
		return nil
	}
	s.mu.Lock()
	pg := s.gps[ppid]
	s.mu.Unlock()
	if pg == nil || pg == g {
		return nil
	}
	s.spareMu.Lock()
	ok := !s.closing && s.tickets < maxTickets
	if ok {
		s.tickets++
	}
	s.spareMu.Unlock()
	if !ok {
		return nil
	}
	pg.ticketMu.Lock()
	var sp *guestprocHandle
	if pg.ticket.held == nil && !pg.ticket.over {
		sp = s.detach(g)
	}
	if sp == nil {
		pg.ticketMu.Unlock()
		s.ticketGone()
		return nil
	}
	t := &ticket{spare: sp, parent: ppid, from: g.pid}
	pg.ticket.held = t
	pg.ticketMu.Unlock()
	return t
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
