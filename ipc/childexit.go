package ipc

import (
	"encoding/json"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Exit reports over the fork socket: a fork socket outlives the fork. The
// parent's guestproc keeps its end as the child's socket, the child's
// guestproc keeps the other, and when the child's process ends the child
// tells its parent there, before it sends Exited to the supervisor:
//
//	child C                     parent P                    S
//	ChildExit{Pid,Status,...} ─▶ keeps the zombie, queues
//	                             SIGCHLD, wakes its wait4
//	Exited ───────────────────────────────────────────────▶ tree.Exit
//	                             ◀── ChildEvent (the echo)
//
// The exit then reaches the parent in one hop, not two plus the
// supervisor's turn. The supervisor's child event still follows, as for
// any exit: P knows it for an echo by the pid, keeps nothing of it and
// raises no second signal, and until it arrives P asks the supervisor
// nothing a missing exit could falsify (guestproc/exit_direct.go). An
// OpReap P sends for the zombie may reach the supervisor before C's
// Exited; the tree then removes the child as that Exited arrives
// (supervisor/tree_reap.go).
//
// C reports only when the parent could not have learnt anything else of
// it through the supervisor that must come first: it was never
// reparented, it has no children (their adoption would follow its exit),
// it never signalled another process and never stopped. Otherwise, or
// when the send fails (P ended), the supervisor's event is the only news.

// MsgChildExit (C→P over the fork socket, body ChildExit) reports that the
// child's process ended.
const MsgChildExit Type = 230

// ChildExit is the body of MsgChildExit: what the supervisor's zombie
// report and SIGCHLD would carry, except what only the tree knows (the
// process group, the exit signal, which P has from its fork).
type ChildExit struct {
	Pid    int32
	Status uint32
	Rusage abi.Rusage
	// Ticket: the child's guestproc now waits on this socket for the
	// parent's next fork image; the socket is the parent's fork ticket
	// if it keeps it (ticket.go). The child's Exited says the same.
	Ticket bool `json:",omitempty"`
}

// tryRecvSize bounds the messages TryRecv takes.
const tryRecvSize = 4096

// TryRecv receives one message if one is ready, without blocking and
// without the poller: for a thread that polled the descriptor itself. Only
// small messages without descriptors are for it (any descriptors are
// closed); false when none was ready, or on any failure (a reader on the
// poller sees it).
func (c *Conn) TryRecv(v any) (Type, bool) {
	if c.closed {
		return 0, false
	}
	var buf [tryRecvSize]byte
	oob := make([]byte, oobSize)
	n, oobn, flags, _, err := unix.Recvmsg(c.fd, buf[:], oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return 0, false
	}
	if fds, err := parseRights(oob[:oobn]); err == nil {
		closeAll(fds)
	}
	if n == 0 || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return 0, false
	}
	if v != nil && json.Unmarshal(buf[1:n], v) != nil {
		return 0, false
	}
	return Type(buf[0]), true
}
