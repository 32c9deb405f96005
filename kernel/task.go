// Package kernel is elfuse's Linux-compatible kernel: the syscall table and
// handlers, the guest address space (mm), descriptors, signals and exec for
// one guest process. It runs inside a guestproc and talks to the hypervisor
// through package hvf and to the rest of the process tree through Host.
//
// Lock order: Process.mu before MM.mu before FDTable.mu. Handlers run on the
// vCPU's own goroutine (locked to its OS thread) and may block there.
package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// Host is how the kernel reaches beyond its own process: the supervisor's
// PID namespace and process tree. guestproc implements it; unit tests use a
// fake.
type Host interface {
	// Pid and Ppid are the guest-visible process ids.
	Pid() int32
	Ppid() int32
	// Exit tells the tree that this process ended with the given wait status
	// (Linux encoding: code<<8, or the signal number | 0x80 for a core dump).
	Exit(status uint32)
	// ReleaseVfork resumes a vfork parent waiting for this process (no-op
	// for any other): execve calls it at its point of no return, before
	// the new image is built, as Linux's exec_mmap does, because from
	// there on the process never touches the parent's memory again.
	ReleaseVfork()
	// Execed tells the tree that the process replaced its image after the
	// point of no return of execve: exe is the guest-visible path, argv the
	// new arguments. It releases a vfork parent still waiting.
	Execed(exe string, argv []string)
}

// Config is fixed for the life of a guest process image.
type Config struct {
	Log hclog.Logger
	// Timeout bounds one uninterrupted vCPU run in seconds (0: none); the
	// run loop only kicks and logs, it never kills.
	Timeout int
	// Root is the guest's file system under --sysroot/--bind (sysroot.go);
	// nil: the guest sees the host's.
	Root *Root
	// Trace, when set, gets a line per syscall (--trace; trace.go).
	Trace *Tracer
	// TraceOut, when set, gets the timeline events (--trace-out;
	// traceout.go).
	TraceOut *TraceOut
}

// Process is a thread group: one address space, one descriptor table, one
// set of signal dispositions.
type Process struct {
	mu sync.Mutex

	Kernel *Kernel
	MM     *MM
	// Mem is how handlers reach guest memory: MM in a running process, a
	// fake in unit tests.
	Mem     Memory
	FDs     *FDTable
	Signals *SignalHandlers
	// vforked marks a process that began as a vfork child (fork.go):
	// its guestproc keeps no RAM for the next one (ReleaseForReuse).
	vforked bool
	// hangup watches the terminal this session leader took for the close
	// of its other side (pty_hangup.go); nil when none.
	hangup *hangupWatch

	// Exe is the guest-visible path of the running image (/proc/self/exe).
	Exe  string
	Argv []string
	Envp []string
	Auxv []AuxEntry

	extra procExtra // identity, limits, prctl state: proc_state.go
	// credGen counts the changes of the credentials record, for the
	// threads that carry them on the host (creds_thread.go).
	credGen atomic.Uint64
	// fsize caches the RLIMIT_FSIZE soft limit (rlimit_fsize.go).
	fsize atomic.Uint64

	// unixNames maps AF_UNIX names bound under a sysroot back to the
	// guest's (sockaddr.go).
	unixNames unixNames

	// exited is set once exit_group ran; Status holds the wait status.
	exited bool
	Status uint32

	// threads are the process's threads once it has more than one
	// (thread.go).
	threads threadGroup
}

// Task is one guest thread: a vCPU plus the per-thread kernel state.
type Task struct {
	Proc *Process
	CPU  hvf.VCPU
	Log  hclog.Logger
	Tid  int32
	// hostTid is the host thread running the vCPU (sys_sys_target.go).
	hostTid atomic.Int32
	// runMark and runEnd: see RunMark and NotifyRunEnd (run_mark.go).
	runMark atomic.Uint64
	runEnd  atomic.Pointer[func()]
	// lastYield is when the run loop last yielded (run_yield.go).
	lastYield time.Time
	// linkHops counts the /dev/shm symlinks the lookup under way
	// followed (devfs_shm_links.go).
	linkHops int

	// SigMask is the blocked-signal set; see signal code.
	SigMask    uint64
	AltStack   abi.StackT
	SigState   TaskSignals
	ClearTID   abi.Addr
	RobustList abi.Addr

	// inSyscall holds the number of the syscall being served (-1 none),
	// for dumps and restarts.
	inSyscall int64

	// OrigRAX is the number of the last syscall (for restarts).
	OrigRAX uint64

	// args holds the arguments of the syscall being served: the
	// dispatcher's scratch, in the Task so that passing &args to a
	// handler does not allocate on every exit.
	args Args
	// sys is the syscall in progress and its start, for dumps
	// (describe.go); written by the dispatcher, read from any goroutine.
	sys syscallClock

	// thread says whether this is a spawned thread and whether it
	// exited alone (thread.go).
	thread threadState
	// opened is the writable synthetic file an open is making
	// (procfs_comm.go).
	opened openedPut
	// creds are the credentials the host thread carries
	// (creds_thread.go).
	creds threadCredState
}

// Kernel is the per-guestproc kernel instance.
type Kernel struct {
	Config
	Host    Host
	Backend hvf.Backend
}

// Exited reports whether the process has finished and its wait status.
func (p *Process) Exited() (bool, uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited, p.Status
}

// exitGroup ends the process with a wait status (first caller wins).
func (p *Process) exitGroup(status uint32) {
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return
	}
	p.exited = true
	p.Status = status
	p.mu.Unlock()
	p.stopHangupWatch() // pty_hangup.go
	p.stopThreads()     // thread.go: the other threads' loops return
	p.Kernel.Host.Exit(status)
}
