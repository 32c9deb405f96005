package supervisor

// The guest PID namespace: pids, the process tree, process groups,
// sessions, zombies and wait statuses. The Tree is pure bookkeeping: it
// never talks to a guestproc. Operations that must reach processes return
// Notes the caller sends once the tree's lock is released.

import (
	"sort"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
)

// State is a process's life state as the tree sees it.
type State int

// Process states.
const (
	Running State = iota
	Stopped
	Zombie
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	case Zombie:
		return "zombie"
	}
	return "unknown"
}

// Proc is one guest process in the tree.
type Proc struct {
	Pid, Ppid, Pgid, Sid int32
	// ExitSignal is the signal the parent gets when the process ends
	// (SIGCHLD for fork; clone's CSIGNAL bits; 0 for none).
	ExitSignal int32
	State      State
	// Status is the wait status of a zombie.
	Status uint32
	Rusage abi.Rusage
	// Subreaper is PR_SET_CHILD_SUBREAPER.
	Subreaper bool
	// Pdeathsig is PR_SET_PDEATHSIG's signal: sent to the process when
	// its parent ends (0: none).
	Pdeathsig int32
	// Execed is set once the process called execve (setpgid on it by its
	// parent then fails with EACCES).
	Execed bool
	Exe    string
	Argv   []string
	// Comm is the process's name as its guestproc last told it ("":
	// /proc names the program file).
	Comm string
	// HostPid is the guestproc's host pid (0 until started).
	HostPid int
	// images are the host files (device, inode) the process executes:
	// its program and interpreter (tree_text.go).
	images [][2]uint64

	// stopReport and contReport are pending WUNTRACED / WCONTINUED
	// reports; stopSig the signal that stopped it.
	stopReport, contReport bool
	stopSig                int32
	// contSeq counts the SIGCONTs sent to it (jobctl_tree.go).
	contSeq uint64

	children map[int32]*Proc
}

// NoteKind says what a Note asks the caller to send.
type NoteKind int

// Note kinds.
const (
	// NoteSignal: send Sig (with Info) to process To.
	NoteSignal NoteKind = iota + 1
	// NoteReparent: process To has a new parent Ppid.
	NoteReparent
	// NoteChildEvent: a child Pid of To changed state (Exited: ended).
	NoteChildEvent
)

// Note is a message the tree wants delivered.
type Note struct {
	Kind   NoteKind
	To     int32
	Sig    int32
	Info   abi.Siginfo
	Ppid   int32
	Pid    int32
	Exited bool
	// Zombie is an ended child's wait report (wait_push.go).
	Zombie *zombieReport
	// Adopted, on a child event, says To adopted live orphan Pid, whose
	// exit signal is ExitSignal.
	Adopted    bool
	ExitSignal int32
}

// Tree is the PID namespace. All methods are safe for concurrent use.
type Tree struct {
	mu    sync.Mutex
	procs map[int32]*Proc
	// tids maps the ids of threads other than a process's first to
	// their process (thread.go).
	tids map[int32]int32
	last int32
	max  int
	uid  uint32
}

// NewTree returns an empty namespace admitting at most maxProcs processes
// (zombies included; 0: no limit). uid is the sender uid of signals the
// tree generates (SIGCHLD).
func NewTree(maxProcs int, uid uint32) *Tree {
	return &Tree{procs: map[int32]*Proc{}, max: maxProcs, uid: uid}
}

// allocPid returns the next free pid, wrapping at PID_MAX like Linux (and
// starting again above 300 after a wrap, as alloc_pid does).
// Preconditions: t.mu held; a free pid exists.
func (t *Tree) allocPid() int32 {
	for {
		t.last++
		if t.last >= abi.PID_MAX {
			t.last = 300
		}
		if _, used := t.procs[t.last]; !used && !t.isTidLocked(t.last) {
			return t.last
		}
	}
}

// full reports whether max-procs is reached. Preconditions: t.mu held.
func (t *Tree) full() bool { return t.max > 0 && len(t.procs) >= t.max }

// OutsideSession and OutsideGroup stand for a session or process group
// whose leader is outside the namespace (the shell or daemon that ran
// elfuse), as for the init of a Linux PID namespace: getsid and getpgid
// report them as 0, and a member may create a session or a group of its
// own like any program a shell starts. They are positive ids no guest
// process ever gets (pids stay below PID_MAX).
const (
	OutsideSession = abi.PID_MAX
	OutsideGroup   = abi.PID_MAX + 1
)

// Leads says whether the supervisor's host process leads its process
// group and its session; pid 1 stands in for it, so it leads the same.
type Leads struct{ Group, Session bool }

// NewInit adds the first process (pid 1). It leads a process group and a
// session exactly when elfuse itself does (a shell's job leads its group;
// `setsid elfuse` leads its session), so that pid 1 sees what the program
// would see run natively in elfuse's place; otherwise its group or session
// is the outside one.
func (t *Tree) NewInit(exe string, argv []string, leads Leads) *Proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	pid := t.allocPid()
	p := &Proc{Pid: pid, Pgid: OutsideGroup, Sid: OutsideSession, ExitSignal: abi.SIGCHLD, Exe: exe,
		Argv: argv, children: map[int32]*Proc{}}
	if leads.Group || leads.Session {
		p.Pgid = pid
	}
	if leads.Session {
		p.Sid = pid
	}
	t.procs[pid] = p
	return p
}

// visible is the id getpgid/getsid report for a group or session: 0 when
// its leader is outside the namespace.
func visible(id int32) int32 {
	if id == OutsideGroup || id == OutsideSession {
		return 0
	}
	return id
}

// Fork adds a child of parent, in its group and session, inheriting its
// image name. EAGAIN past max-procs, ESRCH for an unknown parent.
func (t *Tree) Fork(parent int32, exitSignal int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pp := t.procs[parent]
	if pp == nil || pp.State == Zombie {
		return 0, abi.ESRCH
	}
	if t.full() {
		return 0, abi.EAGAIN
	}
	pid := t.allocPid()
	c := &Proc{Pid: pid, Ppid: parent, Pgid: pp.Pgid, Sid: pp.Sid, ExitSignal: exitSignal,
		Exe: pp.Exe, Argv: pp.Argv, Comm: pp.Comm, images: pp.images, children: map[int32]*Proc{}}
	t.procs[pid] = c
	pp.children[pid] = c
	return pid, nil
}

// Discard removes a process that never ran (its guestproc failed to
// start), without telling anyone.
func (t *Tree) Discard(pid int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(pid)
}

// removeLocked drops pid from the tree. Preconditions: t.mu held.
func (t *Tree) removeLocked(pid int32) {
	p := t.procs[pid]
	if p == nil {
		return
	}
	if pp := t.procs[p.Ppid]; pp != nil {
		delete(pp.children, pid)
	}
	delete(t.procs, pid)
}

// SetHostPid records the guestproc behind pid.
func (t *Tree) SetHostPid(pid int32, host int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		p.HostPid = host
	}
}

// PidOfHost returns the guest pid of the live process whose guestproc is
// host pid host, 0 when none is (a host process outside elfuse, or a
// guestproc idle or serving only zombies). A recycled guestproc serves
// several pids over time, so the answer holds only at the time of the
// call.
func (t *Tree) PidOfHost(host int) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if host <= 0 {
		return 0
	}
	for pid, p := range t.procs {
		if p.HostPid == host && p.State != Zombie {
			return pid
		}
	}
	return 0
}

// HostPidOf returns the host pid of live process pid's guestproc, 0 when
// pid names no live process.
func (t *Tree) HostPidOf(pid int32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil && p.State != Zombie {
		return p.HostPid
	}
	return 0
}

// Execed records that pid replaced its image.
func (t *Tree) Execed(pid int32, exe string, argv []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		p.Execed, p.Exe, p.Argv, p.Comm = true, exe, argv, ""
	}
}

// SetComm records pid's comm (procCommOf).
func (t *Tree) SetComm(pid int32, comm string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		p.Comm = comm
	}
}

// SetSubreaper sets pid's PR_SET_CHILD_SUBREAPER flag.
func (t *Tree) SetSubreaper(pid int32, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		p.Subreaper = on
	}
}

// SetPdeathsig records pid's PR_SET_PDEATHSIG signal.
func (t *Tree) SetPdeathsig(pid, sig int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		p.Pdeathsig = sig
	}
}

// Get returns a copy of pid's entry.
func (t *Tree) Get(pid int32) (Proc, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		return Proc{}, false
	}
	c := *p
	c.children = nil
	return c, true
}

// Snapshot returns a copy of every entry, sorted by pid (for dumps).
func (t *Tree) Snapshot() []Proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Proc, 0, len(t.procs))
	for _, p := range t.procs {
		c := *p
		c.children = nil
		c.Argv = append([]string(nil), p.Argv...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pid < out[j].Pid })
	return out
}

// Live returns the pids of processes that are not zombies.
func (t *Tree) Live() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int32
	for pid, p := range t.procs {
		if p.State != Zombie {
			out = append(out, pid)
		}
	}
	return out
}

// Exit makes pid a zombie with a wait status and its usage, hands its
// children to the nearest living subreaper ancestor or pid 1, and returns
// the messages that tell everyone: SIGCHLD and a child event to the parent,
// Reparent to each orphan (and a child event to the adopter for orphans
// that are already zombies). A process whose parent is gone (pid 1) is
// removed at once.
func (t *Tree) Exit(pid int32, status uint32, ru abi.Rusage) []Note {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil || p.State == Zombie {
		return nil
	}
	p.State, p.Status, p.Rusage = Zombie, status, ru
	t.freeTidsLocked(pid) // thread.go
	var notes []Note
	if len(p.children) > 0 {
		adopter := t.reaperLocked(p)
		kids := make([]int32, 0, len(p.children))
		for k := range p.children {
			kids = append(kids, k)
		}
		sort.Slice(kids, func(i, j int) bool { return kids[i] < kids[j] })
		for _, k := range kids {
			c := p.children[k]
			delete(p.children, k)
			if c.Pdeathsig != 0 && c.State != Zombie {
				// Linux sends it as the parent leaves, from the parent.
				info := abi.Siginfo{Signo: c.Pdeathsig, Code: abi.SI_USER}
				info.SetPid(p.Pid)
				info.SetUid(t.uid)
				notes = append(notes, Note{Kind: NoteSignal, To: k, Sig: c.Pdeathsig, Info: info})
			}
			if adopter == nil {
				// No one left to wait: the orphan's entry goes as soon as
				// it is a zombie.
				c.Ppid = 0
				if c.State == Zombie {
					delete(t.procs, k)
				}
				continue
			}
			c.Ppid = adopter.Pid
			adopter.children[k] = c
			if c.State == Zombie {
				notes = append(notes, t.childNotesLocked(c)...)
			} else {
				notes = append(notes, Note{Kind: NoteReparent, To: k, Ppid: adopter.Pid},
					Note{Kind: NoteChildEvent, To: adopter.Pid, Pid: k, Adopted: true, ExitSignal: c.ExitSignal})
			}
		}
	}
	if t.procs[p.Ppid] == nil {
		delete(t.procs, pid)
		return notes
	}
	return append(notes, t.childNotesLocked(p)...)
}

// reaperLocked returns who adopts p's children: the nearest living
// ancestor with the subreaper flag, else pid 1 (nil when that is p
// itself or gone). Preconditions: t.mu held.
func (t *Tree) reaperLocked(p *Proc) *Proc {
	for a := t.procs[p.Ppid]; a != nil; a = t.procs[a.Ppid] {
		if a.Subreaper && a.State != Zombie {
			return a
		}
		if a.Ppid == 0 {
			break
		}
	}
	if init := t.procs[1]; init != nil && init != p && init.State != Zombie {
		return init
	}
	return nil
}

// childNotesLocked tells c's parent that c ended: its exit signal (SIGCHLD
// with CLD_EXITED/KILLED/DUMPED) and a child event. Preconditions: t.mu held.
func (t *Tree) childNotesLocked(c *Proc) []Note {
	ev := Note{Kind: NoteChildEvent, To: c.Ppid, Pid: c.Pid, Exited: true, Zombie: zombieReportLocked(c)}
	if c.ExitSignal == 0 {
		return []Note{ev}
	}
	info := abi.Siginfo{Signo: c.ExitSignal}
	code, st := childCode(c.Status)
	info.Code = code
	info.SetPid(c.Pid)
	info.SetUid(t.uid)
	info.SetStatus(st)
	info.SetUtime(clockTicks(c.Rusage.Utime))
	info.SetStime(clockTicks(c.Rusage.Stime))
	return []Note{ev, {Kind: NoteSignal, To: c.Ppid, Sig: c.ExitSignal, Info: info}}
}

// childCode turns a wait status into siginfo's si_code and si_status.
func childCode(status uint32) (int32, int32) {
	switch {
	case status&0x7f == 0:
		return abi.CLD_EXITED, int32(status>>8) & 0xff
	case status == 0xffff:
		return abi.CLD_CONTINUED, abi.SIGCONT
	case status&0xff == 0x7f:
		return abi.CLD_STOPPED, int32(status>>8) & 0xff
	case status&0x80 != 0:
		return abi.CLD_DUMPED, int32(status & 0x7f)
	}
	return abi.CLD_KILLED, int32(status & 0x7f)
}

// clockTicks converts a time to USER_HZ (100) ticks, siginfo's unit.
func clockTicks(tv abi.Timeval) int64 { return tv.Sec*100 + tv.Usec/10000 }

// Stopped records that pid stopped by sig (for WUNTRACED) and returns the
// notes for its parent (SIGCHLD CLD_STOPPED, child event).
func (t *Tree) Stopped(pid, sig int32) []Note {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil || p.State != Running {
		return nil
	}
	p.State, p.stopReport, p.contReport, p.stopSig = Stopped, true, false, sig
	return t.stateNotesLocked(p, abi.CLD_STOPPED, sig)
}

// Continued records that pid continued (for WCONTINUED).
func (t *Tree) Continued(pid int32) []Note {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil || p.State != Stopped {
		return nil
	}
	p.State, p.stopReport, p.contReport = Running, false, true
	return t.stateNotesLocked(p, abi.CLD_CONTINUED, abi.SIGCONT)
}

func (t *Tree) stateNotesLocked(p *Proc, code, st int32) []Note {
	if t.procs[p.Ppid] == nil {
		return nil
	}
	info := abi.Siginfo{Signo: abi.SIGCHLD, Code: code}
	info.SetPid(p.Pid)
	info.SetUid(t.uid)
	info.SetStatus(st)
	return []Note{{Kind: NoteChildEvent, To: p.Ppid, Pid: p.Pid},
		{Kind: NoteSignal, To: p.Ppid, Sig: abi.SIGCHLD, Info: info}}
}

// WaitResult is what wait4/waitid report.
type WaitResult struct {
	Pid    int32 // 0: no child has changed state yet
	Status uint32
	Code   int32 // CLD_*
	Rusage abi.Rusage
}

// Wait looks, for process parent, for a child matching the wait4 selector
// sel (>0 pid, 0 own group, -1 any, <-1 group -sel) that has a state change
// the options (abi.W*) ask for, and reports it; zombies are reaped unless
// WNOWAIT. ECHILD when no child matches the selector; a zero Pid when
// children match but none has news. It never blocks.
func (t *Tree) Wait(parent, sel int32, options int32) (WaitResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pp := t.procs[parent]
	if pp == nil {
		return WaitResult{}, abi.ECHILD
	}
	opt := uint32(options)
	kids := make([]*Proc, 0, len(pp.children))
	for _, c := range pp.children {
		if t.selects(pp, c, sel, opt) {
			kids = append(kids, c)
		}
	}
	if len(kids) == 0 {
		return WaitResult{}, abi.ECHILD
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].Pid < kids[j].Pid })
	for _, c := range kids {
		switch {
		case c.State == Zombie && opt&abi.WEXITED != 0:
			code, _ := childCode(c.Status)
			r := WaitResult{Pid: c.Pid, Status: c.Status, Code: code, Rusage: c.Rusage}
			if opt&abi.WNOWAIT == 0 {
				t.removeLocked(c.Pid)
			}
			return r, nil
		case c.stopReport && opt&abi.WSTOPPED != 0:
			if opt&abi.WNOWAIT == 0 {
				c.stopReport = false
			}
			return WaitResult{Pid: c.Pid, Status: uint32(c.stopSig)<<8 | 0x7f, Code: abi.CLD_STOPPED}, nil
		case c.contReport && opt&abi.WCONTINUED != 0:
			if opt&abi.WNOWAIT == 0 {
				c.contReport = false
			}
			return WaitResult{Pid: c.Pid, Status: 0xffff, Code: abi.CLD_CONTINUED}, nil
		}
	}
	return WaitResult{}, nil
}

// selects applies the wait selector and the __WCLONE/__WALL rule: without
// __WALL, __WCLONE waits only for children whose exit signal is not
// SIGCHLD, and its absence only for the others.
func (t *Tree) selects(parent, c *Proc, sel int32, opt uint32) bool {
	switch {
	case sel > 0 && c.Pid != sel:
		return false
	case sel == 0 && c.Pgid != parent.Pgid:
		return false
	case sel < -1 && c.Pgid != -sel:
		return false
	}
	if opt&abi.WALL != 0 {
		return true
	}
	clone := c.ExitSignal != abi.SIGCHLD
	return clone == (opt&abi.WCLONE != 0)
}

// Reap discards zombie pid of parent (a parent that ignores SIGCHLD or set
// SA_NOCLDWAIT never sees its children as zombies).
func (t *Tree) Reap(parent, pid int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.procs[pid]; c != nil && c.Ppid == parent && c.State == Zombie {
		t.removeLocked(pid)
	}
}

// Getpgid implements getpgid for caller (pid 0: itself).
func (t *Tree) Getpgid(caller, pid int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pid == 0 {
		pid = caller
	}
	p := t.procs[pid]
	if p == nil {
		return 0, abi.ESRCH
	}
	return visible(p.Pgid), nil
}

// Getsid implements getsid for caller (pid 0: itself).
func (t *Tree) Getsid(caller, pid int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pid == 0 {
		pid = caller
	}
	p := t.procs[pid]
	if p == nil {
		return 0, abi.ESRCH
	}
	return visible(p.Sid), nil
}

// Setsid implements setsid for caller: EPERM when it leads a process group
// (any process has its pid as pgid).
func (t *Tree) Setsid(caller int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[caller]
	if p == nil {
		return 0, abi.ESRCH
	}
	for _, q := range t.procs {
		if q.Pgid == caller {
			return 0, abi.EPERM
		}
	}
	p.Pgid, p.Sid = caller, caller
	return caller, nil
}

// Setpgid implements setpgid(pid, pgid) for caller with Linux's rules:
// the target is the caller or a child of it (ESRCH), a child that has
// not exec'ed (EACCES) in the caller's session (EPERM); a session leader
// cannot move (EPERM); the group must be the target's own pid or an
// existing group of the caller's session (EPERM).
func (t *Tree) Setpgid(caller, pid, pgid int32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pgid < 0 {
		return abi.EINVAL
	}
	me := t.procs[caller]
	if me == nil {
		return abi.ESRCH
	}
	if pid == 0 {
		pid = caller
	}
	if pgid == 0 {
		pgid = pid
	}
	p := t.procs[pid]
	if p == nil || (pid != caller && p.Ppid != caller) || p.State == Zombie {
		return abi.ESRCH
	}
	if pid != caller {
		if p.Sid != me.Sid {
			return abi.EPERM
		}
		if p.Execed {
			return abi.EACCES
		}
	}
	if p.Sid == p.Pid {
		return abi.EPERM
	}
	if pgid != pid {
		found := false
		for _, q := range t.procs {
			if q.Pgid == pgid && q.Sid == me.Sid {
				found = true
				break
			}
		}
		if !found {
			return abi.EPERM
		}
	}
	p.Pgid = pgid
	return nil
}

// KillTargets resolves a kill(2) selector for caller: pid > 0 that
// process; 0 the caller's group; -1 every process but pid 1 and the
// caller; < -1 group -pid. It returns the living targets; ESRCH when the
// selector names no process at all (zombies count as found: signalling
// one succeeds and does nothing).
func (t *Tree) KillTargets(caller, pid int32) ([]int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var match func(*Proc) bool
	switch {
	case pid > 0:
		p := t.procs[pid]
		if p == nil {
			return nil, abi.ESRCH
		}
		if p.State == Zombie {
			return nil, nil
		}
		return []int32{pid}, nil
	case pid == -1:
		match = func(p *Proc) bool { return p.Pid != 1 && p.Pid != caller }
	default:
		pg := -pid
		if pid == 0 {
			me := t.procs[caller]
			if me == nil {
				return nil, abi.ESRCH
			}
			pg = me.Pgid
		}
		match = func(p *Proc) bool { return p.Pgid == pg }
	}
	found := false
	var out []int32
	for _, p := range t.procs {
		if !match(p) {
			continue
		}
		found = true
		if p.State != Zombie {
			out = append(out, p.Pid)
		}
	}
	if !found {
		return nil, abi.ESRCH
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
