package guestproc

// Fork tickets (see package ipc, ticket.go), from the guestproc's side: a
// parent keeps the ticket the supervisor sends and streams its next fork's
// image over it; a spare given a ticket (a Start with Reserved) waits on
// it for that image and learns its pid from the supervisor's Assign.

import (
	"errors"
	"fmt"
	"io"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// errTicketUnused ends the life of a ticketed spare whose parent ended
// without forking: it read EOF before any image, and is a spare again.
var errTicketUnused = errors.New("fork ticket closed unused")

// ticketUnused is life.run's code for errTicketUnused: the guestproc waits
// for its next Start itself (nextStart), with the Machine and RAM it had.
const ticketUnused = -1

// keepTicket stores the ticket of a MsgTicket (its one descriptor),
// replacing an earlier one, or closes it when the process has ended.
func (h *host) keepTicket(fds []int) {
	if len(fds) != 1 {
		closeFDs(fds)
		return
	}
	c := ipc.NewConn(fds[0])
	h.mu.Lock()
	old := h.ticket
	if h.ticketsOver {
		old, c = c, nil
	}
	h.ticket = c
	h.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// takeTicket returns the process's ticket and forgets it (nil: none).
func (h *host) takeTicket() *ipc.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.ticket
	h.ticket = nil
	return c
}

// endTickets closes the ticket as the process ends, before its Exited: the
// spare on the other end reads EOF and waits to be given a Start again.
func (h *host) endTickets() {
	h.mu.Lock()
	h.ticketsOver = true
	c := h.ticket
	h.ticket = nil
	h.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// assignedBy returns the hook (kernel.StartForkedOn's assigned) of a life
// started on a ticket: it reads the Assign that makes the spare the child
// and gives the life its pid, then calls named. For other lives: nil.
func (l *life) assignedBy(start *ipc.Start, named func()) func() error {
	if !start.Reserved {
		return nil
	}
	return func() error {
		var a ipc.Assign
		if _, err := l.conn.Expect(ipc.MsgAssign, &a); err != nil {
			return fmt.Errorf("fork ticket: %w", err)
		}
		if a.Pid <= 0 {
			return fmt.Errorf("fork ticket: assigned pid %d: %w", a.Pid, abi.EINVAL)
		}
		start.Pid, start.Ppid, start.Reserved = a.Pid, a.Ppid, false
		named()
		return nil
	}
}

// nextStart waits, on a guestproc nobody else reads the control socket of
// (a fresh spare, or one whose ticket closed unused), for the Start of its
// next process and returns it with the fork socket. An Assign instead is a
// ticketed fork whose parent died before sending the image: the child
// could not start (the supervisor forgets its pid) and the guestproc ends.
func nextStart(conn *ipc.Conn) (ipc.Start, int, bool) {
	var raw ipc.Raw
	t, fds, err := conn.Recv(&raw)
	if err != nil {
		return ipc.Start{}, -1, false
	}
	var s ipc.Start
	switch {
	case t == ipc.MsgStart && decode(raw, &s) == nil && s.Fork && len(fds) == 1:
		return s, fds[0], true
	case t == ipc.MsgAssign:
		conn.Send(ipc.MsgExecFailed, ipc.ExecFailed{Errno: int(abi.EIO), Message: "fork image: the parent ended first"})
	}
	closeFDs(fds)
	return ipc.Start{}, -1, false
}

// unusedTicket tells whether a fork image's first read failed because a
// ticket closed before any image (the parent's process ended).
func unusedTicket(start *ipc.Start, err error) bool {
	return start.Reserved && (errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET))
}
