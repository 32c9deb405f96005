package ipc

import "github.com/elfuse/elfuse/kernel/abi"

// GuestprocMode is the hidden first argument that makes the elfuse binary a
// guestproc; the supervisor's pid follows it.
const GuestprocMode = "__elfuse_guestproc"

// GuestprocControlFD is the descriptor number of the control socket in a
// guestproc.
const GuestprocControlFD = 3

// GuestprocForkFD is the descriptor number of the fork socket in a
// guestproc started for a fork child (Start.Fork).
const GuestprocForkFD = 4

// GuestprocJobGenFD is the descriptor number of the job-control generation
// page (a memfd holding one uint64 the supervisor bumps whenever a
// terminal-access verdict may change) in a guestproc, when the supervisor
// has one.
const GuestprocJobGenFD = 5

// GuestprocTraceFD is the descriptor number of the --trace output in a
// guestproc started while tracing (Start.Trace).
const GuestprocTraceFD = 6

// GuestprocTraceOutFD is the descriptor number of the --trace-out timeline
// in a guestproc started while writing one (Start.TraceOut).
const GuestprocTraceOutFD = 7

// TTYGoAhead is Reply.Code of an OpTTYAccess answered "go ahead": the
// caller may reuse it until the job-control generation moves.
const TTYGoAhead = 1

// ForkVersion is the version of the fork image format (ForkHeader.Version);
// parent and child are the same binary, so a mismatch is a bug.
const ForkVersion = 1

// Start tells a new guestproc what to run.
type Start struct {
	Path     string   // host path of the program
	Argv     []string // guest argv
	Envp     []string // guest environment
	Pid      int32    // guest pid
	Ppid     int32    // guest parent pid
	Backend  string   // "kvm", "ptrace" or "auto"
	Timeout  int      // watchdog seconds, 0 = off
	LogLevel string
	// Sysroot, when set, is the host directory the guest sees as "/";
	// Path is then a guest path (a bare name is searched in the guest's
	// PATH under the sysroot). Binds bring host paths in; Workdir is the
	// guest's initial working directory (a guest path), "" to inherit.
	Sysroot string
	Binds   []Bind
	Workdir string
	// Fork is set for a fork child: Path, Argv and Envp are empty and the
	// image arrives on descriptor GuestprocForkFD.
	Fork bool
	// Inherited lists, for pid 1, the guest numbers of the descriptors its
	// caller left open above stderr, sent with this message by
	// SCM_RIGHTS in the same order; Closed lists the standard
	// descriptors (0-2) the caller had closed.
	Inherited []int32 `json:",omitempty"`
	Closed    []int32 `json:",omitempty"`
	// Spare starts a warm spare: only Backend, Timeout and LogLevel are
	// set. The guestproc gets its runtime and VM ready, then waits for a
	// second Start (Fork set) carrying the fork socket as its one
	// SCM_RIGHTS descriptor.
	Spare bool
	// Reserved (with Fork) gives a spare a fork ticket (ticket.go): the
	// fork socket of a fork process Ppid may make later. Pid is 0 until a
	// MsgAssign names the child.
	Reserved bool `json:",omitempty"`
	// Trace: write a line per syscall to descriptor GuestprocTraceFD
	// (--trace).
	Trace bool `json:",omitempty"`
	// TraceOut: write timeline events to descriptor GuestprocTraceOutFD
	// (--trace-out), dropping syscalls shorter than TraceOutMinUs µs.
	TraceOut      bool  `json:",omitempty"`
	TraceOutMinUs int64 `json:",omitempty"`
}

// Bind is one --bind HOST[:GUEST][:ro].
type Bind struct {
	Host, Guest string
	ReadOnly    bool
}

// ExecFailed reports why the program could not be started.
type ExecFailed struct {
	Errno   int    // Linux errno (ENOENT, EACCES, ENOEXEC, ...)
	Message string // one line for the user
	// Unavailable is set when the hypervisor backend cannot run here.
	Unavailable bool
	// Lost is set when a fork child failed after its parent's fork
	// returned its pid (both sides committed; see Conn): the child
	// counts as killed, not as never made.
	Lost bool `json:",omitempty"`
}

// Exited carries the guest's wait status (Linux encoding) and the usage of
// the process and its waited-for descendants (what the parent's wait4
// reports and adds to its RUSAGE_CHILDREN).
type Exited struct {
	Status uint32
	Rusage abi.Rusage
	// Reusable: the guestproc released the process and can become a
	// warm spare (a later Start with Fork set); else it exits next.
	Reusable bool
	// Comm is the process's last comm, for /proc of its zombie (as
	// MsgProcComm carries it for a stopped process).
	Comm string `json:",omitempty"`
}

// Op names a guestproc→supervisor request.
type Op string

// Requests (body Request, answered by a Reply with the same ID unless said).
const (
	// OpFork: a child pid and a new guestproc. Request.ExitSignal and one
	// descriptor, the child's end of the fork socket the parent made, or
	// Ticket and none (ticket.go); the reply carries Pid (sent before any
	// note about the child: a warm spare may get the socket first).
	OpFork Op = "fork"
	// OpWait: poll for a child state change (never blocks). Request.Pid
	// (wait4 selector), Options (W* bits). Reply Pid 0: none yet.
	OpWait Op = "wait"
	// OpKill: send Sig with Info to Pid (kill(2) selector) or, with
	// Thread, to the thread Pid of process Tgid (tgkill; Tgid -1 tkill).
	// Reply Self: the caller is a target and queues the signal itself.
	OpKill    Op = "kill"
	OpSetpgid Op = "setpgid" // Pid, Pgid
	OpGetpgid Op = "getpgid" // Pid; reply Pid
	OpSetsid  Op = "setsid"  // reply Pid (the new sid)
	OpGetsid  Op = "getsid"  // Pid; reply Pid
	OpExeced  Op = "execed"  // Exe, Argv, Files (as OpImage); no reply
	OpReap    Op = "reap"    // Pid: discard an auto-reaped zombie; no reply
	OpUnfork  Op = "unfork"  // Pid: a fork child that never started, forgotten without a trace; no reply
	OpSubreap Op = "subreap" // Flag: PR_SET_CHILD_SUBREAPER; no reply
	// OpPdeathsig: Sig is the caller's PR_SET_PDEATHSIG signal (0: none),
	// sent to it when its parent ends; an empty reply once recorded.
	OpPdeathsig Op = "pdeathsig"
	OpDescribe  Op = "describe" // reserved for dump
	// OpStop: stop the caller as the default action of stop signal Sig,
	// unless a SIGCONT newer than Seq was sent to it or (Sig other than
	// SIGSTOP) its process group is orphaned. Reply Self: it stopped; that
	// reply is held until the process is continued and follows the
	// SIGCONT message (Signal.Seq).
	OpStop Op = "stop"
	// OpHostGroup: is host signal Sig, which reached the caller's
	// guestproc through elfuse's host process group, meant for the
	// caller? A terminal's signals are for the guest's foreground group,
	// others for the group elfuse's host group stands for. Reply Self.
	OpHostGroup Op = "hostgroup"
	// OpTcgetpgrp: the foreground process group of elfuse's terminal as
	// the caller sees it (reply Pid; 0 when elfuse is not in the host
	// terminal's foreground). OpTcsetpgrp: make Pgid that group.
	OpTcgetpgrp Op = "tcgetpgrp"
	OpTcsetpgrp Op = "tcsetpgrp"
	// OpPidOfHost: the guest pid of the live process served by host pid
	// Pid (reply Pid; 0 for none). OpHostPidOf: the host pid of guest
	// process Pid (reply Pid; 0 for none).
	OpPidOfHost Op = "pidofhost"
	OpHostPidOf Op = "hostpidof"
	// OpTTYAccess: may the caller read (Sig SIGTTIN) or write or set up
	// (Sig SIGTTOU) elfuse's terminal, its controlling terminal? Flag:
	// the caller ignores or blocks Sig. Reply Errno EIO: the access
	// fails; Self: Sig was sent to the caller's process group, which the
	// caller is in and queues it itself, and the access is restarted
	// once it runs again; neither: the access goes ahead.
	OpTTYAccess Op = "ttyaccess"
	// OpPidfdOpen: a pidfd of process Pid (a zombie too). The reply
	// carries Gen, the incarnation the pidfd names, and one descriptor,
	// an eventfd made readable when that process exits.
	// OpPidfdKill: kill(2) of Pid with Sig and Info, but only while Pid
	// is still incarnation Seq (else ESRCH); Reply Self as OpKill.
	OpPidfdOpen Op = "pidfdopen"
	OpPidfdKill Op = "pidfdkill"
	// OpNewTid: a thread id for a new thread of the caller (reply Pid).
	// OpFreeTid: thread Pid of the caller ended; no reply.
	OpNewTid  Op = "newtid"
	OpFreeTid Op = "freetid"
	// OpImage: the caller now executes Files (device, inode: program
	// and interpreter); no reply. OpTextBusy: does a live process
	// execute Files[0]? Reply Self.
	OpImage    Op = "image"
	OpTextBusy Op = "textbusy"
	// OpTcgetsid: the session of elfuse's terminal as the caller sees it
	// (reply Pid; 0 for the session outside the namespace). Errno ENOTTY:
	// it is not the caller's controlling terminal (it left by setsid).
	// OpTcgetpgrp and OpTcsetpgrp answer ENOTTY the same way.
	OpTcgetsid Op = "tcgetsid"
	// OpTTYDetach: the caller gives up elfuse's terminal (TIOCNOTTY).
	// Errno ENOTTY: it is not its controlling terminal. Reply Self: the
	// caller leads the session and is in the foreground group, to which
	// SIGHUP and SIGCONT were sent; it queues both itself.
	OpTTYDetach Op = "ttydetach"
	// OpGuestTTY: a pseudo-terminal a guest session takes as its
	// controlling terminal (TIOCSCTTY), named by Seq, the follower's
	// device number. Options says what (GuestTTY*): Take (Flag: steal it
	// from another session), Getpgrp and Getsid (reply Pid; Flag: asked
	// through the leader side, which answers any caller), Setpgrp
	// (Pgid). Errno ENOTTY: it is not the caller's controlling terminal.
	// Signal (Pgid: the signal) sends what the terminal itself sends its
	// foreground group (a special character typed, a resize), from any
	// caller; reply Self: the caller is in that group and queues it.
	// Access (Pgid: SIGTTIN or SIGTTOU, Flag: the caller ignores or
	// blocks it) applies job control to the caller's access, as
	// OpTTYAccess does on elfuse's terminal.
	OpGuestTTY Op = "guesttty"
	// OpCtty: the caller's controlling terminal, for open("/dev/tty").
	// Reply Self: elfuse's terminal; else Gen: the device number of the
	// pseudo-terminal follower its session took (0: none, ENXIO).
	OpCtty Op = "ctty"
	// OpPidfdGetfd: a duplicate of descriptor Options of process Pid,
	// while it is incarnation Seq (ESRCH otherwise), for pidfd_getfd(2)
	// (protocol in getfd.go). Files[0] holds the caller's real uid and
	// gid, Flag its CAP_SYS_PTRACE. The reply carries the descriptor.
	OpPidfdGetfd Op = "pidfdgetfd"
)

// OpGuestTTY requests (Request.Options).
const (
	GuestTTYTake = iota
	GuestTTYGetpgrp
	GuestTTYSetpgrp
	GuestTTYGetsid
	GuestTTYSignal
	GuestTTYAccess
)

// Request is the body of MsgRequest.
type Request struct {
	ID         uint64 // echoed in the Reply; 0 for requests without one
	Op         Op
	Pid        int32
	Pgid       int32
	Tgid       int32
	Sig        int32
	Thread     bool
	Options    int32
	ExitSignal int32
	Flag       bool
	Info       []byte // struct siginfo, abi.SizeofSiginfo bytes
	Exe        string
	Argv       []string
	Seq        uint64 // OpStop: the newest SIGCONT sequence number taken in
	// Files are host files as (device, inode) pairs (OpImage, OpExeced,
	// OpTextBusy).
	Files [][2]uint64 `json:",omitempty"`
	// Ticket (OpFork): the child is the spare of the parent's fork ticket
	// (ticket.go); the request carries no descriptor.
	Ticket bool `json:",omitempty"`
}

// Reply is the body of MsgReply.
type Reply struct {
	ID     uint64
	Errno  int32 // Linux errno, 0 on success
	Pid    int32
	Status uint32 // wait status (Linux encoding)
	Code   int32  // CLD_* of a wait result
	Rusage abi.Rusage
	Self   bool
	Gen    uint64 `json:",omitempty"` // OpPidfdOpen: the target's incarnation
}

// Signal is the body of MsgSignal: a signal for the receiving guestproc.
type Signal struct {
	Sig    int32
	Info   []byte // struct siginfo
	Thread bool   // thread-directed (tkill/tgkill) rather than process-directed
	// Seq numbers the SIGCONTs sent to one process, from 1 (see OpStop).
	Seq uint64
	// Tid is the target thread of a thread-directed signal when it is not
	// the process's first thread (0: any).
	Tid int32 `json:",omitempty"`
}

// Reparent is the body of MsgReparent: the process's new parent pid.
type Reparent struct {
	Ppid int32
}

// ChildEvent is the body of MsgChildEvent: a child of the receiver changed
// state (exited, stopped, continued) and may now be waited for.
type ChildEvent struct {
	Pid int32
	// Exited is set when the child ended (a zombie the receiver may have
	// to reap itself when it ignores SIGCHLD).
	Exited bool
	// Zombie, set with Exited, is what a wait for the zombie reports, so
	// the receiver can reap it without an OpWait round trip (it then
	// sends OpReap; see guestproc/wait_push.go).
	Zombie *ZombieReport `json:",omitempty"`
	// Signal, when set, is the signal the change sends the receiver
	// (SIGCHLD, or clone's exit signal). It rides in the event so that the
	// receiver queues it together with the news, as Linux's
	// do_notify_parent does: a wait4 that the event ends returns the child
	// and the signal is delivered on the way out, with no second message
	// and no interrupted run.
	Signal *Signal `json:",omitempty"`
	// Adopted says the receiver, pid 1 or a subreaper, just adopted Pid,
	// a live orphan, with exit signal ExitSignal: with the children it
	// forked, it knows every child it has (guestproc/wait_quiet.go).
	Adopted    bool  `json:",omitempty"`
	ExitSignal int32 `json:",omitempty"`
}

// ZombieReport is what wait4/waitid report for an ended child, with what
// selects it: its process group and exit signal (for __WCLONE).
type ZombieReport struct {
	Status     uint32 // wait status (Linux encoding)
	Code       int32  // CLD_EXITED, CLD_KILLED or CLD_DUMPED
	Rusage     abi.Rusage
	Pgid       int32
	ExitSignal int32
}

// ForkFD is one guest descriptor of a fork image: its number, the index
// of its host descriptor in the set sent after the header, close-on-exec.
type ForkFD struct {
	FD          int32
	Index       int
	CloseOnExec bool
}
