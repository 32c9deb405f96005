package kernel

import (
	"path"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Creds is a process's credentials record (struct cred). The kernel applies
// set*id and capset calls to it; the host threads serving the process carry
// its fs ids, groups and effective set (creds_thread.go).
type Creds struct {
	RUID, EUID, SUID, FSUID uint32
	RGID, EGID, SGID, FSGID uint32
	Groups                  []uint32
	Caps                    Caps
}

// clone returns a copy of c that shares no memory with it.
func (c Creds) clone() Creds {
	c.Groups = append([]uint32(nil), c.Groups...)
	return c
}

// ProcState is the per-process state the identity, limits, prctl and
// personality syscalls keep. It is what a fork snapshot carries for them.
type ProcState struct {
	Creds   Creds
	Rlimits [abi.RLIM_NLIMITS]abi.Rlimit
	// Comm is the PR_SET_NAME name; "" means the basename of Exe.
	Comm           string
	Personality    uint32
	Dumpable       int32
	PdeathSig      int32
	ChildSubreaper bool
	NoNewPrivs     bool
	KeepCaps       bool
	THPDisable     bool
	TimerSlackNs   uint64
	// OomScoreAdj and the floor below which only CAP_SYS_RESOURCE may
	// set it (procfs_oom.go).
	OomScoreAdj, OomScoreAdjMin int32
}

// defaultTimerSlackNs is Linux's default timer slack for a task.
const defaultTimerSlackNs = 50000

// procExtra is the Process field behind ext(). Its locks (mu, the timer's
// and each taskWait's) are leaves: nothing else is acquired while one of
// them is held, and they never nest.
type procExtra struct {
	once sync.Once

	mu sync.Mutex
	st ProcState
	// pgid and sid of the process while no Host implements sessionHost;
	// 0 means "the process's own pid".
	pgid, sid int32
	// itReal is ITIMER_REAL (sys_time_itimer.go).
	itReal realTimer
	// cpuT are ITIMER_VIRTUAL and ITIMER_PROF (sys_time_itimer_cpu.go).
	cpuT cpuTimers
	// cpuGen numbers the RLIMIT_CPU watchers: one whose number is no
	// longer current stops (rlimit_cpu.go).
	cpuGen uint64
	// timers are the POSIX timers (sys_time_posixtimer.go).
	timers posixTimers
	// childUsage sums the usage of reaped children (RUSAGE_CHILDREN).
	childUsage abi.Rusage
	// waits holds the interruptible-wait state of each task (sys_thread_wait.go).
	waits map[*Task]*taskWait
}

// ext returns the process's extra state, initialising it from the host on
// first use.
func (p *Process) ext() *procExtra { return p.extWith(nil) }

// extWith is ext, with st (when not nil) as the first state instead of
// the host's: a fork child's state comes from its parent, and reading the
// host's credentials and 16 limits only to replace them cost 120-230 us
// per fork here.
func (p *Process) extWith(st *ProcState) *procExtra {
	x := &p.extra
	x.once.Do(func() {
		if st != nil {
			x.st = *st
		} else {
			x.st = ProcState{
				Creds:        HostCreds(),
				Rlimits:      HostRlimits(),
				Dumpable:     1,
				TimerSlackNs: defaultTimerSlackNs,
			}
		}
		x.waits = map[*Task]*taskWait{}
	})
	return x
}

// State returns a copy of the process's identity, limits and prctl state.
func (p *Process) State() ProcState {
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.st
	st.Creds = st.Creds.clone()
	return st
}

// ForkState returns the state a fork child inherits: everything except the
// parent-death signal and the child-subreaper flag, which Linux clears in
// the child.
func (p *Process) ForkState() ProcState {
	st := p.State()
	st.PdeathSig = 0
	st.ChildSubreaper = false
	return st
}

// SetState replaces the process's state (fork child, exec of a set-id image).
func (p *Process) SetState(st ProcState) {
	st.Creds = st.Creds.clone()
	x := p.extWith(&st)
	x.mu.Lock()
	x.st = st
	x.mu.Unlock()
	p.credsChanged()
	p.syncFDLimit()
}

// InitState initialises the process's identity and limits from the host and
// hands RLIMIT_NOFILE to the descriptor table. StartProcess calls it once the
// Process has its FDTable; without it the state is built on first use.
func (p *Process) InitState() {
	p.ext()
	p.syncFDLimit()
}

// Comm returns the task name (PR_GET_NAME, /proc/PID/comm): the name set by
// PR_SET_NAME, or else the basename of the executable, at most 15 bytes.
func (p *Process) Comm() string {
	x := p.ext()
	x.mu.Lock()
	c := x.st.Comm
	x.mu.Unlock()
	if c == "" {
		c = path.Base(p.Exe)
		if p.Exe == "" {
			c = ""
		}
	}
	if len(c) > abi.TASK_COMM_LEN-1 {
		c = c[:abi.TASK_COMM_LEN-1]
	}
	return c
}

// SetComm sets the task name (exec sets it to the new image's basename)
// and tells a CommHost.
func (p *Process) SetComm(name string) {
	if len(name) > abi.TASK_COMM_LEN-1 {
		name = name[:abi.TASK_COMM_LEN-1]
	}
	x := p.ext()
	x.mu.Lock()
	x.st.Comm = name
	x.mu.Unlock()
	if p.Kernel != nil {
		if h, ok := p.Kernel.Host.(CommHost); ok {
			h.CommChanged(name)
		}
	}
}

// CommHost is a Host that keeps the process's name for the readers of its
// /proc whom the process cannot answer itself (stopped by another
// process's SIGSTOP, say).
type CommHost interface {
	CommChanged(name string)
}

// Rlimit returns the process's limit for resource res (abi.RLIMIT_*); an
// unknown resource reads as unlimited.
func (p *Process) Rlimit(res int) abi.Rlimit {
	if res < 0 || res >= abi.RLIM_NLIMITS {
		return abi.Rlimit{Cur: abi.RLIM_INFINITY, Max: abi.RLIM_INFINITY}
	}
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.st.Rlimits[res]
}

// Creds returns a copy of the process's credentials.
func (p *Process) Creds() Creds {
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.st.Creds.clone()
}

// HostCreds returns the credentials of the host process (the guest starts
// with the identity of the user who ran elfuse).
func HostCreds() Creds {
	var c Creds
	r, e, s := unix.Getresuid()
	c.RUID, c.EUID, c.SUID, c.FSUID = uint32(r), uint32(e), uint32(s), uint32(e)
	r, e, s = unix.Getresgid()
	c.RGID, c.EGID, c.SGID, c.FSGID = uint32(r), uint32(e), uint32(s), uint32(e)
	if gs, err := unix.Getgroups(); err == nil {
		for _, g := range gs {
			c.Groups = append(c.Groups, uint32(g))
		}
	}
	c.Caps = hostCaps()
	return c
}

// HostRlimits returns the host process's resource limits, the initial table
// of a guest process.
//
// The Go runtime (package syscall's init) raises its own soft RLIMIT_NOFILE
// to hard-1 when it was lower, and restores the original only in children it
// starts itself, so the soft limit seen here is not the one the user set.
// A soft limit of exactly hard-1 is that raise; the original is then
// unknown, and the guest gets Linux's default soft limit (1024, what a
// program started from a login shell normally sees). Any other value is the
// user's own setting and passes through.
func HostRlimits() [abi.RLIM_NLIMITS]abi.Rlimit {
	var out [abi.RLIM_NLIMITS]abi.Rlimit
	for res := range out {
		var rl unix.Rlimit
		if err := unix.Prlimit(0, res, nil, &rl); err != nil {
			out[res] = abi.Rlimit{Cur: abi.RLIM_INFINITY, Max: abi.RLIM_INFINITY}
			continue
		}
		out[res] = abi.Rlimit{Cur: rl.Cur, Max: rl.Max}
	}
	out[abi.RLIMIT_NOFILE] = undoGoNofileRaise(out[abi.RLIMIT_NOFILE])
	return out
}

// undoGoNofileRaise maps the Go runtime's raised RLIMIT_NOFILE (soft ==
// hard-1) back to Linux's default soft limit; see HostRlimits.
func undoGoNofileRaise(nf abi.Rlimit) abi.Rlimit {
	if nf.Max != abi.RLIM_INFINITY && nf.Max > 0 && nf.Cur == nf.Max-1 {
		nf.Cur = min(abi.INR_OPEN_CUR, nf.Cur)
	}
	return nf
}

// ResetForExec applies execve's rules to the process state: the name becomes
// the new image's basename (Exe must already name it), the process is
// dumpable again, PR_SET_KEEPCAPS is cleared and the capability sets are
// recomputed as for an image without file capabilities (root keeps its
// bounding set, others keep their ambient set). Ids, limits, no_new_privs,
// the parent-death signal and interval timers survive exec (elfuse runs no
// set-id images).
func (p *Process) ResetForExec() {
	x := p.ext()
	x.timers.deleteAll() // exec deletes POSIX timers
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.Comm = ""
	x.st.Dumpable = 1
	x.st.KeepCaps = false
	defer p.credsChanged()
	c := &x.st.Creds
	if c.EUID == 0 || c.RUID == 0 {
		c.Caps.Permitted = c.Caps.Bounding | c.Caps.Inheritable
		c.Caps.Ambient = 0
		c.Caps.Effective = 0
		if c.EUID == 0 {
			c.Caps.Effective = c.Caps.Permitted
		}
	} else {
		c.Caps.Permitted, c.Caps.Effective = c.Caps.Ambient, c.Caps.Ambient
	}
}
