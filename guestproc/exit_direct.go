package guestproc

// Exit reports over the fork socket (see ipc/childexit.go): the parent
// keeps its end of each child's fork socket and a goroutine reads it; the
// child keeps its end and writes its exit there before it tells the
// supervisor. The parent takes that report as the supervisor's child
// event with its zombie report and SIGCHLD, but for two things only the
// tree knows:
//
//   - The zombie's process group: the report leaves it unknown (0), so a
//     wait for a group never takes it locally.
//   - Whether anything the supervisor holds for the parent must come
//     before the exit. A child that may have made such news (it was
//     reparented, has children, signalled another process, stopped) does
//     not report; otherwise the supervisor's event for the exit follows
//     (the echo), which the parent drops but for its wake-up. A wait that
//     must ask the supervisor, and a fork (whose ticket the supervisor
//     sends ahead of the echo: fork_ticket.go), first wait for the echoes
//     of the reports taken.
//
// Whichever of report and echo comes first counts, the other is dropped:
// a report for a child no longer live, an echo for a pid reported.

import (
	"os"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// childSockets are the fork sockets of a process's live children.
type childSockets struct {
	byPid map[int32]*childSocket
	// over: the process ended; sockets are closed as they come.
	over bool
}

// childSocket is one child's fork socket and its reader goroutine, which
// closes done as it ends.
type childSocket struct {
	fc   *ipc.Conn
	done chan struct{}
}

// watchChild keeps fc, the fork socket of child pid, and reads its exit
// report on a goroutine of its own. It takes fc.
func (h *host) watchChild(pid int32, fc *ipc.Conn) {
	if err := fc.UsePoller(); err != nil {
		fc.Close()
		return
	}
	cs := &childSocket{fc: fc, done: make(chan struct{})}
	h.mu.Lock()
	if h.children.over {
		h.mu.Unlock()
		fc.Close()
		return
	}
	if h.children.byPid == nil {
		h.children.byPid = map[int32]*childSocket{}
	}
	if old := h.children.byPid[pid]; old != nil {
		old.fc.Close() // a pid the supervisor reused: the old child is gone
	}
	h.children.byPid[pid] = cs
	h.mu.Unlock()
	go func() {
		defer close(cs.done)
		var ce ipc.ChildExit
		t, fds, err := fc.Recv(&ce)
		closeFDs(fds)
		if err == nil && t == ipc.MsgChildExit && ce.Pid == pid {
			h.directExit(ce)
		}
		// Gone from the map: closed by endChildren, or kept as the
		// fork ticket (keepChildTicket).
		h.mu.Lock()
		mine := h.children.byPid[pid] == cs
		if mine {
			delete(h.children.byPid, pid)
		}
		h.mu.Unlock()
		if mine {
			fc.Close()
		}
	}()
}

// endChildren closes the children's sockets as the process ends: their
// exits go to the supervisor only.
func (h *host) endChildren() {
	h.mu.Lock()
	socks := h.children.byPid
	h.children.byPid = nil
	h.children.over = true
	h.mu.Unlock()
	for _, cs := range socks {
		cs.fc.Close() // wakes its reader, which finds it gone
	}
}

// keepChildTicket makes the socket of child pid, whose guestproc offered
// itself with the exit report, the process's fork ticket, unless it holds
// one (then, as when it ended, the socket closes and the guestproc reads
// EOF). Its reader is stopped; the fork that uses the ticket waits for it
// to be gone (takeTicket).
func (h *host) keepChildTicket(pid int32) {
	h.mu.Lock()
	cs := h.children.byPid[pid]
	if cs == nil {
		h.mu.Unlock()
		return
	}
	delete(h.children.byPid, pid)
	keep := h.ticket == nil && !h.ticketsOver
	if keep {
		h.ticket, h.ticketFrom, h.ticketReader = cs.fc, pid, cs.done
	}
	h.mu.Unlock()
	if keep {
		cs.fc.Interrupt()
	} else {
		cs.fc.Close()
	}
}

// directExit takes a child's exit report as its child event, and the
// ticket it offers.
func (h *host) directExit(ce ipc.ChildExit) {
	if ce.Ticket {
		// Before the wake-up, so that a fork right after the wait
		// finds it; whether or not the supervisor's event came first.
		h.keepChildTicket(ce.Pid)
	}
	sig, ok := h.zombies.exitSignal(ce.Pid)
	if !ok {
		return // the supervisor's event came first
	}
	code, _ := abi.ChildCode(ce.Status)
	e := ipc.ChildEvent{Pid: ce.Pid, Exited: true,
		Zombie: &ipc.ZombieReport{Status: ce.Status, Code: code, Rusage: ce.Rusage, ExitSignal: sig}}
	if sig != 0 {
		info := abi.ExitSiginfo(sig, ce.Pid, uint32(os.Getuid()), ce.Status, ce.Rusage)
		b := make([]byte, abi.SizeofSiginfo)
		info.MarshalBytes(b)
		e.Signal = &ipc.Signal{Sig: sig, Info: b}
	}
	h.childEventOf(e, true)
}

// exitSignal returns the exit signal of live child pid; false when it is
// not live (its exit was told already).
func (z *zombies) exitSignal(pid int32) (int32, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	sig, ok := z.live[pid]
	return sig, ok
}

// reportedLocked records the exit report e of a live child (keep: as a
// zombie to wait for); false when its exit was told already, or a wait
// reaped it. Preconditions: z.mu held.
func (z *zombies) reportedLocked(e ipc.ChildEvent, keep bool) bool {
	sig, live := z.live[e.Pid]
	if !live || z.tomb[e.Pid] > 0 {
		return false
	}
	delete(z.live, e.Pid)
	if z.direct == nil {
		z.direct = map[int32]bool{}
	}
	z.direct[e.Pid] = true
	if keep && e.Zombie != nil {
		if z.byPid == nil {
			z.byPid = map[int32]ipc.ZombieReport{}
		}
		r := *e.Zombie
		r.ExitSignal = sig // the fork's
		z.byPid[e.Pid] = r
	}
	return true
}

// echo reports whether exit event e is the supervisor's echo of a report
// taken, and forgets the report. Preconditions: z.mu held.
func (z *zombies) echoLocked(e ipc.ChildEvent) bool {
	if !e.Exited || !z.direct[e.Pid] {
		return false
	}
	delete(z.direct, e.Pid)
	return true
}

// echoPending reports whether a report's echo is still to come.
func (z *zombies) echoPending() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.direct) > 0
}

// awaitEchoes waits until the supervisor caught up with every exit report
// taken, or the control socket failed.
func (h *host) awaitEchoes() {
	for {
		ch := h.ChildEvents()
		if !h.zombies.echoPending() {
			return
		}
		select {
		case <-ch:
		case <-h.dead:
			return
		}
	}
}

// childless reports whether the process has no child, live or zombie,
// and no wait in progress.
func (z *zombies) childless() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.live) == 0 && len(z.byPid) == 0 && z.inflight == 0 && z.reaping == 0
}

// keepParent keeps a fork child's end of its fork socket, for its exit
// report to parent ppid.
func (h *host) keepParent(fc *ipc.Conn, ppid int32) {
	h.mu.Lock()
	h.parent, h.forkParent = fc, ppid
	h.mu.Unlock()
}

// spoke notes that the process made news for another process through the
// supervisor (a signal, a stop): its exit must then follow that news.
func (h *host) spoke() { h.madeNews.Store(true) }

// tellParent sends the exit report to the parent when it may (see above)
// and closes the fork socket; or, when offer is set and the report went,
// keeps the socket as the parent's fork ticket (parentTicket) and reports
// true.
func (h *host) tellParent(status uint32, ru abi.Rusage, offer bool) bool {
	h.mu.Lock()
	fc, ppid := h.parent, h.forkParent
	h.parent = nil
	h.mu.Unlock()
	if fc == nil {
		return false
	}
	if h.ppid.Load() == ppid && !h.madeNews.Load() && h.zombies.childless() {
		// A parent that ended (EPIPE) hears it from the supervisor.
		err := fc.Send(ipc.MsgChildExit, ipc.ChildExit{Pid: h.pid, Status: status, Rusage: ru, Ticket: offer})
		if err == nil && offer {
			h.mu.Lock()
			h.ticketSock = fc
			h.mu.Unlock()
			return true
		}
	}
	fc.Close()
	return false
}

// parentTicket returns the fork socket tellParent kept as the parent's
// ticket, and the parent (nil: none). The caller owns its descriptor.
func (h *host) parentTicket() (*ipc.Conn, int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fc := h.ticketSock
	h.ticketSock = nil
	return fc, h.forkParent
}

// maxPolledChildren bounds the children's sockets a raw wait polls; past
// it their reports wake the wait through the reader goroutines.
const maxPolledChildren = 7

// ChildReportFDs implements the kernel's childReporter: the children's
// sockets, for a raw wait to poll.
func (h *host) ChildReportFDs(fds []unix.PollFd) []unix.PollFd {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, cs := range h.children.byPid {
		if n == maxPolledChildren {
			break
		}
		fds = append(fds, unix.PollFd{Fd: int32(cs.fc.FD()), Events: unix.POLLIN})
		n++
	}
	return fds
}

// TakeChildReports implements the kernel's childReporter: it takes the
// exit reports ready on the children's sockets, racing their reader
// goroutines (a message goes to one reader; the loser finds none).
func (h *host) TakeChildReports() {
	var ready []ipc.ChildExit
	h.mu.Lock()
	for pid, cs := range h.children.byPid {
		// Under h.mu: the reader closes the socket only once it took
		// it from the map.
		var ce ipc.ChildExit
		if t, ok := cs.fc.TryRecv(&ce); ok && t == ipc.MsgChildExit && ce.Pid == pid {
			ready = append(ready, ce)
		}
	}
	h.mu.Unlock()
	for _, ce := range ready {
		h.directExit(ce)
	}
}
