package supervisor

// Fork tickets (see package ipc, ticket.go): when a fork child ends, its
// guestproc, instead of going back to the pool of spares, is joined to its
// parent's next fork, so that fork's image goes straight to a guestproc
// already waiting for it instead of waiting for the supervisor to pick one
// and for that one to wake up.
//
// The ended child's guestproc is the one to take: the shell that waited
// for it is about to fork again, and this guestproc, its stub and its kept
// copy source are the warmest there are. Tickets made from whatever spare
// the pool held (measured first) slept for a command between uses, and on
// this host copied and mapped the image a third slower, more than the
// ticket saved.

import (
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// maxTickets bounds the fork tickets held at once, each an idle guestproc
// and stub (~8 MiB): a wide tree of shells would otherwise keep one per
// shell whose child ended. Past it an ended child's guestproc goes to the
// pool as before.
const maxTickets = 8

// tickets is a guestproc's fork ticket.
type tickets struct {
	held *ticket // nil: none
	// over: the process ended, it gets no more tickets.
	over bool
}

// ticket is a spare joined to a parent's next fork. The parent gets its
// end of the fork socket with the news of the exit that made the spare, in
// the same message (so that its next fork finds it, and the exit's way to
// the parent's wait carries one wake-up, not two), the spare its Start
// after (it is still releasing that process); start sends the Start once,
// before anything else that goes to the spare (an Assign, a Start of the
// pool).
type ticket struct {
	spare  *guestprocHandle
	parent int32
	once   sync.Once
	theirs *ipc.Conn // the spare's end, until start
	live   bool      // the spare got its Start
	// to and mine: the parent and its end, until handOver.
	to   *guestproc
	mine *ipc.Conn
}

// forkStart is the Start of a child of parent: pid 0 for a ticket's spare,
// which learns its pid from the Assign.
func (s *supervisor) forkStart(pid, parent int32) ipc.Start {
	// A fork child keeps the tree's root and binds; its cwd arrives with
	// the image.
	return ipc.Start{Pid: pid, Ppid: parent, Fork: true, Reserved: pid == 0, Backend: s.cfg.Backend,
		Timeout: s.cfg.Timeout, LogLevel: s.cfg.LogLevel, Sysroot: s.cfg.Sysroot, Binds: s.cfg.Binds,
		Trace: s.cfg.Trace != nil, TraceOut: s.cfg.TraceOut != nil, TraceOutMinUs: s.cfg.TraceOutMinUs}
}

// start sends the spare its Start with the fork socket, once; false when
// the spare is gone (it is then discarded).
func (t *ticket) start(s *supervisor) bool {
	t.once.Do(func() {
		err := t.spare.conn.Send(ipc.MsgStart, s.forkStart(0, t.parent), t.theirs.FD())
		t.theirs.Close()
		if err != nil {
			s.log.Debug("ticket: spare guestproc gone", "host_pid", t.spare.cmd.Process.Pid, "error", err)
			go t.spare.discard()
			return
		}
		t.live = true
	})
	return t.live
}

// recycleAsTicket makes the guestproc of fork child g, whose process just
// ended and offered it for reuse, its parent's fork ticket, unless the
// parent has one. Lock order: a ticketMu, then (detach) g.sendMu and s.mu.
// It returns the ticket, whose end the caller hands to the parent with the
// exit's child event (exit, then handOver) and whose start it calls once
// the parent was told of the exit, or nil: no ticket, g is still the
// caller's.
func (s *supervisor) recycleAsTicket(g *guestproc) *ticket {
	p, ok := s.tree.Get(g.pid)
	if !ok {
		return nil
	}
	s.mu.Lock()
	pg := s.gps[p.Ppid]
	s.mu.Unlock()
	if pg == nil || pg == g {
		return nil
	}
	s.spareMu.Lock()
	ok = !s.closing && s.tickets < maxTickets
	if ok {
		s.tickets++
	}
	s.spareMu.Unlock()
	if !ok {
		return nil
	}
	mine, theirs, err := s.takePair()
	if err != nil {
		s.ticketGone()
		return nil
	}
	pg.ticketMu.Lock()
	var sp *guestprocHandle
	if pg.ticket.held == nil && !pg.ticket.over {
		sp = s.detach(g)
	}
	if sp == nil {
		pg.ticketMu.Unlock()
		mine.Close()
		theirs.Close()
		s.ticketGone()
		return nil
	}
	t := &ticket{spare: sp, parent: pg.pid, theirs: theirs, to: pg, mine: mine}
	pg.ticket.held = t
	pg.ticketMu.Unlock()
	return t
}

// carried is the descriptor of t's end for the child event that tells
// parent of the exit (-1: none, or not that parent's).
func (t *ticket) carried(parent int32) int {
	if t == nil || t.mine == nil || parent != t.parent {
		return -1
	}
	return t.mine.FD()
}

// handOver closes the parent's end of the ticket, first sending it in a
// MsgTicket of its own unless a child event carried it (sent). A parent
// that ended meanwhile never reads it: its end of life (reclaimTicket)
// takes the spare back.
func (t *ticket) handOver(s *supervisor, sent bool) {
	if t == nil || t.mine == nil {
		return
	}
	if !sent {
		if err := t.to.send(ipc.MsgTicket, struct{}{}, t.mine.FD()); err != nil {
			s.log.Trace("ticket not delivered", "pid", t.parent, "error", err)
		}
	}
	t.mine.Close()
	t.mine = nil
}

// ticketGone counts a ticket no longer held.
func (s *supervisor) ticketGone() {
	s.spareMu.Lock()
	s.tickets--
	s.spareMu.Unlock()
}

// takeTicket returns g's ticket and forgets it (nil: none).
func (g *guestproc) takeTicket() *ticket {
	g.ticketMu.Lock()
	defer g.ticketMu.Unlock()
	t := g.ticket.held
	g.ticket.held = nil
	return t
}

// reclaimTicket ends g's tickets when its process ended: the spare of one
// goes back to the pool. Its guestproc closed its end of the socket as the
// process ended, or closes it as it reads a late MsgTicket; the spare reads
// EOF and waits for a Start again.
func (s *supervisor) reclaimTicket(g *guestproc) {
	g.ticketMu.Lock()
	g.ticket.over = true
	t := g.ticket.held
	g.ticket.held = nil
	g.ticketMu.Unlock()
	if t == nil {
		return
	}
	s.ticketGone()
	if t.start(s) {
		s.returnSpare(t.spare)
	}
}

// returnSpare puts a spare back in the pool, or ends it when the pool is
// full or closing.
func (s *supervisor) returnSpare(sp *guestprocHandle) {
	if !s.keepSpare(sp) {
		go sp.discard()
	}
}

// forkTicketed makes the child of a fork of g on g's ticket: the spare gets
// its pid (it has the image, or is getting it) and becomes the child.
// ESTALE: no usable ticket (no process was made; the parent forks again
// the ordinary way).
func (s *supervisor) forkTicketed(g *guestproc, req *ipc.Request) error {
	t := g.takeTicket()
	if t == nil {
		return abi.ESTALE
	}
	s.ticketGone()
	if !t.start(s) {
		return abi.ESTALE
	}
	parent := g.pid
	pid, err := s.tree.Fork(parent, req.ExitSignal)
	if err != nil {
		// The spare may have the image already: it goes.
		s.log.Debug("fork on a ticket refused", "pid", parent, "error", err)
		go t.spare.discard()
		return err
	}
	if err := t.spare.conn.Send(ipc.MsgAssign, ipc.Assign{Pid: pid, Ppid: parent}); err != nil {
		s.log.Debug("fork: ticket's spare gone", "host_pid", t.spare.cmd.Process.Pid, "error", err)
		s.tree.Discard(pid)
		go t.spare.discard()
		return abi.ESTALE
	}
	s.pidfdBorn(pid)
	s.forked(g, req, pid, t.spare)
	return nil
}

// forked registers child pid on guestproc sp, which has its Start (or
// Assign): the parent's reply first, so that it precedes every note about
// the child, which only the child's serve, started after it, can cause.
func (s *supervisor) forked(g *guestproc, req *ipc.Request, pid int32, sp *guestprocHandle) {
	s.replyFork(g, req, pid)
	sp.pid = pid
	s.tree.SetHostPid(pid, sp.cmd.Process.Pid)
	go s.serve(s.add(sp))
}

// replyFork sends the parent its child's pid.
func (s *supervisor) replyFork(g *guestproc, req *ipc.Request, pid int32) {
	if req.ID == 0 {
		return
	}
	if err := g.send(ipc.MsgReply, ipc.Reply{ID: req.ID, Pid: pid}); err != nil {
		s.log.Debug("reply not delivered", "pid", g.pid, "error", err)
	}
}

// killTickets ends the spares held by tickets (pid 1 ended). s.mu is not
// held while a ticketMu is: recycleAsTicket takes them the other way round.
func (s *supervisor) killTickets() {
	s.mu.Lock()
	gps := make([]*guestproc, 0, len(s.gps))
	for _, g := range s.gps {
		gps = append(gps, g)
	}
	s.mu.Unlock()
	for _, g := range gps {
		g.ticketMu.Lock()
		g.ticket.over = true
		t := g.ticket.held
		g.ticket.held = nil
		g.ticketMu.Unlock()
		if t != nil {
			t.once.Do(func() { t.theirs.Close() })
			go t.spare.discard()
		}
	}
}

// takePair returns a fork socket for a ticket: one makePair made ahead if
// there is one (a socketpair costs ~10 µs here, on the way from a child's
// exit to its parent's wait), else a new one.
func (s *supervisor) takePair() (*ipc.Conn, *ipc.Conn, error) {
	select {
	case p := <-s.pairs:
		return p[0], p[1], nil
	default:
		return ipc.Socketpair()
	}
}

// makePair makes the socket the next ticket takes, unless one waits.
func (s *supervisor) makePair() {
	if len(s.pairs) == cap(s.pairs) {
		return
	}
	a, b, err := ipc.Socketpair()
	if err != nil {
		return
	}
	select {
	case s.pairs <- [2]*ipc.Conn{a, b}:
	default:
		a.Close()
		b.Close()
	}
}

// dropPairs closes the sockets made ahead (the tree ended).
func (s *supervisor) dropPairs() {
	for {
		select {
		case p := <-s.pairs:
			p[0].Close()
			p[1].Close()
		default:
			return
		}
	}
}
