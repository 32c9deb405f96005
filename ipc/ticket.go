package ipc

// Fork tickets: a process whose child just ended is likely to fork again
// (a shell, make, a compiler driver), so the supervisor joins the ended
// child's guestproc to the parent's next fork. The parent gets one end of
// a new fork socket in a MsgTicket, before it hears of the exit; the
// guestproc, once it has released the ended process, a Start with
// Reserved set and the other end. The next fork streams the image straight
// to that guestproc, whose vCPU thread already waits on the socket, while
// the request travels to the supervisor; the child learns its pid from a
// MsgAssign before its first instruction runs:
//
//	parent G                 S                          spare C
//	<- MsgTicket + fork socket
//	<- (the child's exit)
//	                         MsgStart{Reserved, Ppid} + fork socket ->
//	                                                    (waits on the socket)
//	Request OpFork{Ticket} ->
//	ForkImage, FDChunk... (on the ticket) ----------------------------->
//	                         tree.Fork: pid
//	                         MsgAssign{Pid, Ppid} ->
//	                         <- Reply{Pid} to the parent
//	<------------------------------------------------------ ForkReady
//	                                                    reads MsgAssign,
//	                                                    runs, Started...
//
// From the Assign on, C is an ordinary fork child (see Conn). The other
// ends:
//   - A refused fork (EAGAIN past --max-procs): S replies the errno and
//     kills C, which may already have copied the image; the parent's fork
//     fails with the errno.
//   - A ticket S cannot use (its spare died): S replies ESTALE without
//     making a process and the parent forks again the ordinary way, with
//     the same image.
//   - The parent's process ends unforked: its guestproc closes the ticket
//     (a guestproc that dies closes it anyway). C reads EOF before any image
//     and waits for its next Start as a spare again; S puts it back in the
//     pool. A MsgAssign C reads instead of a Start (the parent asked for
//     the fork and died before sending the image) is a child that could
//     not start: C answers ExecFailed and exits.
//
// A ticketed spare is no process: it has no pid, and nothing (dump, /proc,
// wait, kill) sees it until its Assign.

// Message types of fork tickets, above the pidfd_getfd ones.
const (
	// MsgTicket (S→G, body empty) carries the parent's end of a ticket's
	// fork socket as its one descriptor. It replaces an earlier one.
	MsgTicket Type = 220
	// MsgAssign (S→C, body Assign) makes a ticketed spare the child of a
	// fork.
	MsgAssign Type = 221
)

// Assign is the body of MsgAssign.
type Assign struct {
	Pid  int32
	Ppid int32
}
