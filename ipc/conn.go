// Package ipc carries the messages between the supervisor and guestprocs.
//
// Transport: an AF_UNIX SOCK_SEQPACKET socketpair, so every message keeps its
// boundaries and a dead peer reads as EOF (zero-length read). A message is
//
//	[1 byte type][body]
//
// with descriptors attached by SCM_RIGHTS. The body is the binary form of
// a value that implements encoding.BinaryMarshaler (and the receiver's
// encoding.BinaryUnmarshaler): the fork image, whose JSON decoding was
// most of a fork child's start, and the messages of every fork, exit and
// wait (messages_wire.go). Other bodies are JSON. A reader that takes
// several types receives a Raw and decodes it once the type is known.
// At most MaxFDsPerMessage descriptors travel with one message; SendFDs splits larger sets into
// chunks of type MsgFDChunk that the receiver collects with RecvFDs.
//
// Who closes what: Send never closes the descriptors it passes (the caller
// still owns them); Recv returns received descriptors already marked
// close-on-exec and the caller owns them. On any receive error every
// descriptor that did arrive is closed before the error is returned.
package ipc

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxFDsPerMessage bounds SCM_RIGHTS per sendmsg (portable and well under
// the kernel's SCM_MAX_FD of 253).
const MaxFDsPerMessage = 120

// maxMessage is the largest message body accepted.
const maxMessage = 1 << 20

// Type identifies a message.
type Type uint8

// Message types. The protocol between the supervisor (S), guestprocs (G)
// and, during a fork, a parent guestproc (P) and its child (C):
//
//	Start-up (control socket, descriptor 3 of G):
//	  S→G Start          what to run (Fork: the image comes from P; Spare:
//	                     get ready, a second Start with the fork socket
//	                     attached follows when a fork needs this spare)
//	  G→S ExecFailed     the program could not be loaded (G exits next)
//	  G→S Started        the guest is running (pid 1 only: a fork child
//	                     that failed to start says ExecFailed, and one
//	                     that starts goes on to its requests at once)
//
//	Requests (control socket; G blocks its vCPU thread for the Reply):
//	  G→S Request{ID, Op, ...}
//	  S→G Reply{ID, Errno, ...}        same ID
//	  Requests with ID 0 (OpExeced, OpReap, OpUnfork, OpSubreap) get no
//	  Reply.
//
//	Asynchronous, any time after Started (a fork child: after its Start;
//	read by G's reader goroutine, which also routes Replies to the waiting
//	request by ID):
//	  S→G Signal{Sig, Info}       queue a signal (kill from another process)
//	  S→G Reparent{Ppid}          the parent died; this is the new getppid
//	  S→G ChildEvent{Pid}         a child changed state: wake wait4
//	  S→G Describe{ID}            for `elfuse dump`: G's reader answers
//	  G→S Description{ID, ...}    without stopping the guest (describe.go)
//
//	End:
//	  G→S Exited{Status, Rusage}  the guest ended (G exits next). EOF
//	                              without it: G died (counted as SIGKILL)
//	  Exited{Reusable}: a fork child's G released the process and offers
//	  itself as a spare: S keeps it (a later Start with Fork set and the
//	  fork socket, read by G's reader, begins its next process) or closes
//	  the control socket (G exits).
//
//	Fork (OpFork; the fork socket: P makes it and sends one end with the
//	Request, which S hands to C, in its Start or as descriptor 4, or P
//	holds a fork ticket, whose C already has the other end: ticket.go; S replies
//	to P before C gets its Start, so that nothing about C reaches P before
//	the Reply; P streams the image meanwhile, and a refusal closes C's
//	end unread: P reads EOF, then the Reply's errno):
//	  P→C ForkImage       the versioned image header (kernel.ForkImage);
//	                      its RAM is P's own RAM memfd; its descriptors
//	                      come attached when they fit in one message
//	  P→C FDChunk...      else in chunks of <= MaxFDsPerMessage after it
//	                      (SendWithFDs)
//	  C→P ForkReady       C copied P's private memory (a fork) and forwards
//	                      terminal signals to the child from now on; it
//	                      maps its address space after this. P's fork
//	                      returns when it reads this (EOF: C failed before)
//	  Both sides are committed once ForkReady went through: a C failing
//	  after it reports ExecFailed{Lost} and counts as killed, one failing
//	  before it as never made.
//	  vfork: P then blocks reading the notify pipe whose write end C got
//	  in the image; C closes it at execve, or it closes when C dies.
//
// Who closes what: see Conn. A dead supervisor kills every guestproc
// (Pdeathsig SIGKILL); a guestproc whose control socket reads EOF exits.
const (
	MsgStart Type = iota + 1
	MsgExecFailed
	MsgStarted
	MsgExited
	MsgFDChunk
	MsgRequest
	MsgReply
	MsgSignal
	MsgReparent
	MsgChildEvent
	MsgForkImage
	MsgForkReady
	MsgDescribe
	MsgDescription
)

// Conn is one end of a SOCK_SEQPACKET socketpair.
type Conn struct {
	fd int
	// file and rc are set by UsePoller (poll.go).
	file *os.File
	rc   syscall.RawConn
	// closed is set by Close (by the goroutine that owns the Conn).
	closed bool
	// takes, when set (CountTakes), counts the messages Recv is about to
	// take from the socket.
	takes *atomic.Uint64
}

// CountTakes has Recv add one to n once a message is there and before it
// takes it from the socket: a count read after the socket was seen empty
// includes every message taken before (supervisor/textbusy_settle.go).
// Call it before the Conn is read.
func (c *Conn) CountTakes(n *atomic.Uint64) { c.takes = n }

// NewConn wraps a connected SOCK_SEQPACKET descriptor; the Conn owns it.
func NewConn(fd int) *Conn { return &Conn{fd: fd} }

// Socketpair returns two connected ends, close-on-exec.
func Socketpair() (*Conn, *Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: socketpair: %w", err)
	}
	return NewConn(fds[0]), NewConn(fds[1]), nil
}

// FD returns the underlying descriptor.
func (c *Conn) FD() int { return c.fd }

// Close closes the descriptor; closing again does nothing.
func (c *Conn) Close() error { return c.closeConn() }

// Send encodes v (in its binary form, else as JSON) and sends it as one
// message of type t with the given descriptors (at most MaxFDsPerMessage).
func (c *Conn) Send(t Type, v any, fds ...int) error {
	if len(fds) > MaxFDsPerMessage {
		return fmt.Errorf("ipc: %d descriptors in one message (max %d)", len(fds), MaxFDsPerMessage)
	}
	var body []byte
	var err error
	if b, ok := v.(encoding.BinaryMarshaler); ok {
		// The receiver's value has the matching UnmarshalBinary.
		body, err = b.MarshalBinary()
	} else {
		body, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("ipc: encode message %d: %w", t, err)
	}
	msg := append([]byte{byte(t)}, body...)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	err = c.writing(func(fd int) error {
		return unix.Sendmsg(fd, msg, oob, nil, unix.MSG_NOSIGNAL)
	})
	if err != nil {
		return fmt.Errorf("ipc: send message %d: %w", t, err)
	}
	return nil
}

// Recv receives one message, decodes its body into v (if v is not nil) and
// returns its type and descriptors. A closed peer gives io.EOF.
func (c *Conn) Recv(v any) (Type, []int, error) { return c.recv(v, 0) }

// recv is Recv that decodes the body only when the type is want (0: any).
func (c *Conn) recv(v any, want Type) (Type, []int, error) {
	// The message's length first (MSG_PEEK|MSG_TRUNC reports the whole
	// length of a SOCK_SEQPACKET record), so that the buffer is only as
	// large as the message: a fresh 1 MiB buffer per message costs a
	// page fault per 4 KiB touched, which in a just-started guestproc was
	// several milliseconds of every fork.
	size, err := c.peekSize()
	if err != nil {
		return 0, nil, fmt.Errorf("ipc: receive: %w", err)
	}
	if c.takes != nil && size > 0 {
		c.takes.Add(1)
	}
	bp := getBuffer(min(max(size, 1), maxMessage))
	defer putBuffer(bp)
	buf := *bp
	oob := make([]byte, oobSize)
	var n, oobn, flags int
	err = c.reading(func(fd int) (err error) {
		n, oobn, flags, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("ipc: receive: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return 0, nil, err
	}
	fail := func(err error) (Type, []int, error) {
		closeAll(fds)
		return 0, nil, err
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return fail(errors.New("ipc: descriptors truncated (MSG_CTRUNC)"))
	}
	if flags&unix.MSG_TRUNC != 0 {
		return fail(errors.New("ipc: message truncated"))
	}
	if n == 0 {
		return fail(io.EOF)
	}
	t := Type(buf[0])
	if want != 0 && t != want {
		v = nil // the caller fails it on its type, not on its body
	}
	if u, ok := v.(encoding.BinaryUnmarshaler); ok {
		if err := u.UnmarshalBinary(buf[1:n]); err != nil {
			return fail(fmt.Errorf("ipc: decode message %d: %w", t, err))
		}
	} else if v != nil {
		if err := json.Unmarshal(buf[1:n], v); err != nil {
			return fail(fmt.Errorf("ipc: decode message %d: %w", t, err))
		}
	}
	return t, fds, nil
}

// Expect receives one message and checks its type.
func (c *Conn) Expect(want Type, v any) ([]int, error) {
	t, fds, err := c.recv(v, want)
	if err != nil {
		return nil, err
	}
	if t != want {
		closeAll(fds)
		return nil, fmt.Errorf("ipc: got message %d, want %d", t, want)
	}
	return fds, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("ipc: control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("ipc: SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
