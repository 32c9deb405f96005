package kernel

// Fork images: everything a child process needs to become a copy of its
// parent, in a form that crosses a socket (JSON header plus descriptors
// by index). The parent builds one with (*Task).forkImage while its vCPU
// is stopped in the syscall; the child guestproc rebuilds the process
// with (*Kernel).StartForked.

import (
	"errors"
	"fmt"
	"sync"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// ForkImageVersion is the version of ForkImage's layout.
const ForkImageVersion = 3

// ForkFD is one guest descriptor of a fork image.
type ForkFD struct {
	FD          int32
	Index       int // into the image's descriptor set
	CloseOnExec bool
	// Signalfd: the descriptor is a signalfd reporting SignalMask. The
	// child makes its own (readiness follows the child's signals, not
	// the parent's), with the same status flags.
	Signalfd   bool   `json:",omitempty"`
	SignalMask uint64 `json:",omitempty"`
	// Pidfd, PidfdGen: the descriptor is a pidfd of process Pidfd's
	// incarnation PidfdGen (sys_pidfd.go).
	Pidfd    int32  `json:",omitempty"`
	PidfdGen uint64 `json:",omitempty"`
}

// ForkImage is a process as a fork child inherits it. Descriptor fields
// (RAM, Cwd, Notify, Regions[i].Fd, FDs[i].Index) are indexes into the
// descriptor set sent with the image; -1 means none.
type ForkImage struct {
	Version int
	// Vfork: the child runs on the parent's memory (RAM is the parent's
	// own RAM memfd, not a copy) and Notify is the write end of the
	// pipe whose closing releases the parent.
	Vfork  bool
	Notify int

	Regs           hvf.Regs
	FSBase, GSBase uint64
	FP             []byte

	Actions  [abi.NSIG]abi.Sigaction
	SigMask  uint64
	AltStack abi.StackT

	State ProcState
	Umask uint32
	Cwd   int

	Exe  string
	Argv []string
	Envp []string
	Auxv []AuxEntry

	// Sched are the parent's scheduling attributes (fork_sched.go).
	Sched *SchedAttrs `json:",omitempty"`

	// RAM is the parent's RAM memfd: a vfork child runs on it, a fork
	// child copies Extents of it into its own (ChildRAM) and lets go.
	RAM      int
	Regions  []MapInfo
	BrkStart abi.Addr
	Brk      abi.Addr
	Extents  []abi.Range
	// Writes tells which parts of Extents changed since an earlier fork
	// of the same RAM (mm_track.go).
	Writes ForkWrites

	FDs []ForkFD

	// SetChildTID and ClearChildTID carry CLONE_CHILD_SETTID and
	// CLONE_CHILD_CLEARTID (0: not asked).
	SetChildTID, ClearChildTID abi.Addr
}

// forkImage describes the calling task's process for a child. It returns
// the image, its descriptor set (owned by the process except those the
// returned release function closes) and the release function, to call
// once the child has copied what it needs (or will never get it).
//
// Preconditions: the task is in a syscall on its vCPU thread, so no guest
// code of this thread runs until release; the others are stopped here.
func (t *Task) forkImage(vfork bool) (*ForkImage, []int, func(), error) {
	p := t.Proc
	if p.MM == nil {
		return nil, nil, nil, fmt.Errorf("fork: process has no address space: %w", abi.ENOMEM)
	}
	var snap *Snapshot
	release := func() {}
	if vfork {
		snap = p.MM.Share()
		p.MM.trackLent() // mm_track.go
	} else {
		// The other threads stay out of the guest until the child has
		// copied the memory, as Linux's copy is instantaneous
		// (thread_stop.go).
		release = t.stopOthers()
		snap = p.MM.ForkLayout()
	}
	fp, err := t.CPU.FPState()
	if err != nil {
		release()
		return nil, nil, nil, fmt.Errorf("fork: FP state: %w", err)
	}
	img := &ForkImage{
		Version: ForkImageVersion, Vfork: vfork, Notify: -1,
		Regs: *t.CPU.Regs(), FSBase: t.CPU.FSBase(), GSBase: t.CPU.GSBase(), FP: fp,
		State: p.ForkState(), Umask: currentUmask(), Cwd: -1,
		Exe: p.Exe, Argv: p.Argv, Envp: p.Envp, Auxv: p.Auxv,
		BrkStart: snap.BrkStart, Brk: snap.Brk, Sched: readSchedAttrs(), Extents: snap.Extents,
	}
	if !vfork {
		img.Writes = p.MM.forkWrites(snap.Extents, snap.Copied) // mm_track.go
	}
	if !t.leader() {
		img.State.Comm = t.Comm() // the child is named after its forking thread
	}
	s := p.sigHandlers()
	s.mu.Lock()
	img.Actions = s.actions
	img.SigMask = t.SigMask
	img.AltStack = t.AltStack
	s.mu.Unlock()

	var fds []int
	index := map[int]int{}
	add := func(fd int) int {
		if i, ok := index[fd]; ok {
			return i
		}
		index[fd] = len(fds)
		fds = append(fds, fd)
		return len(fds) - 1
	}
	img.RAM = add(snap.RAM)
	for _, r := range snap.Regions {
		if r.Fd >= 0 {
			r.Fd = add(r.Fd)
		}
		img.Regions = append(img.Regions, r)
	}
	for _, e := range p.FDs.Entries() {
		// A descriptor closed under us (another thread, a stale entry)
		// would make the whole SCM_RIGHTS message fail: leave it out.
		if _, err := unix.FcntlInt(uintptr(e.Host), unix.F_GETFD, 0); err != nil {
			t.Log.Warn("fork: stale descriptor left out", "fd", e.FD, "host_fd", e.Host, "error", err)
			continue
		}
		ffd := ForkFD{FD: e.FD, Index: add(e.Host), CloseOnExec: e.CloseOnExec}
		if e.sigfd != nil {
			ffd.Signalfd, ffd.SignalMask = true, uint64(p.Signals.signalfdMask(e.sigfd))
		}
		if e.pidfd != nil {
			ffd.Pidfd, ffd.PidfdGen = e.pidfd.pid, e.pidfd.gen
		}
		img.FDs = append(img.FDs, ffd)
	}
	cwd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		img.Cwd = add(cwd)
		prev := release
		release = func() { unix.Close(cwd); prev() }
	}
	return img, fds, release, nil
}

// forkAddrLimit is the address-space size of fork children (a variable so
// unit tests can keep their host windows small).
var forkAddrLimit = AddrLimit

var umaskMu sync.Mutex

// currentUmask reads the guestproc's umask (the guest's: umask(2) sets the
// host's) without changing it for longer than the read.
func currentUmask() uint32 {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	m := unix.Umask(0o022)
	unix.Umask(m)
	return uint32(m)
}

// StartForked rebuilds a forked process from img on a new Machine in this
// guestproc and returns its task, ready to run with the parent's registers
// and RAX 0. fds is the image's descriptor set; the caller keeps owning it
// (what the child keeps is duplicated). A fork child copies the parent's
// memory into ram (kept from this guestproc's last process, or nil for a
// new one), then calls copied, after which the parent may go on; a vfork
// child calls it at once (and lets ram go: it maps the parent's). It takes
// ram either way; an error of copied fails the start. assigned, if not
// nil, is called once the address space is built and before anything uses
// the child's pid (a fork ticket's child learns it late: guestproc); its
// error fails the start too.
//
// Preconditions: called on the goroutine, locked to its OS thread, that
// will run the task.
func (k *Kernel) StartForked(img *ForkImage, fds []int, ram *ChildRAM, copied, assigned func() error) (*Task, error) {
	machine, err := k.Backend.NewMachine(hvf.Config{AddrLimit: uint64(forkAddrLimit)})
	if err != nil {
		ram.Close()
		return nil, fmt.Errorf("fork: create machine: %w", err)
	}
	return k.StartForkedOn(machine, img, fds, ram, copied, assigned)
}

// NewForkMachine creates the Machine a fork child will run on, ahead of
// the fork (a warm spare guestproc); StartForkedOn takes it.
func (k *Kernel) NewForkMachine() (hvf.Machine, error) {
	return k.Backend.NewMachine(hvf.Config{AddrLimit: uint64(forkAddrLimit)})
}

// NewForkRAM makes the RAM of a future fork child ahead of the fork (a warm
// spare), for StartForkedOn.
func NewForkRAM() (*ChildRAM, error) { return NewChildRAM(forkAddrLimit) }

// StartForkedOn is StartForked on a Machine made ahead with
// NewForkMachine. It owns machine: on error it is closed.
func (k *Kernel) StartForkedOn(machine hvf.Machine, img *ForkImage, fds []int, ram *ChildRAM, copied, assigned func() error) (*Task, error) {
	t, err := k.startForked(machine, img, fds, ram, copied, assigned)
	if err != nil && machine != nil {
		machine.Close()
	}
	return t, err
}

func (k *Kernel) startForked(machine hvf.Machine, img *ForkImage, fds []int, ram *ChildRAM, copied, assigned func() error) (*Task, error) {
	taken := false
	defer func() {
		if !taken {
			ram.Close()
		}
	}()
	if img.Version != ForkImageVersion {
		return nil, fmt.Errorf("fork image version %d, want %d: %w", img.Version, ForkImageVersion, abi.EINVAL)
	}
	at := func(i int) (int, error) {
		if i < 0 || i >= len(fds) {
			return -1, fmt.Errorf("fork image descriptor index %d of %d: %w", i, len(fds), abi.EINVAL)
		}
		return fds[i], nil
	}
	if img.Cwd >= 0 {
		if fd, err := at(img.Cwd); err == nil {
			if err := unix.Fchdir(fd); err != nil {
				return nil, fmt.Errorf("fork: enter the parent's cwd: %w", err)
			}
		}
	}
	unix.Umask(int(img.Umask))

	snap := &Snapshot{BrkStart: img.BrkStart, Brk: img.Brk, Extents: img.Extents}
	parentRAM, err := at(img.RAM)
	if err != nil {
		return nil, err
	}
	for _, r := range img.Regions {
		if r.Fd >= 0 {
			if r.Fd, err = at(r.Fd); err != nil {
				return nil, err
			}
		}
		snap.Regions = append(snap.Regions, r)
	}
	if !img.Vfork {
		if ram == nil {
			if ram, err = NewChildRAM(forkAddrLimit); err != nil {
				return nil, fmt.Errorf("fork: %w", err)
			}
		}
		if err := ram.CopyFrom(parentRAM, img.Extents, img.Writes); err != nil {
			if errors.Is(err, errForkCheck) {
				// Not a lost child that the parent forks again,
				// which would hide it: one killed as it starts.
				copied()
			}
			return nil, fmt.Errorf("fork: copy the parent's memory: %w", err)
		}
	}
	if err := copied(); err != nil {
		return nil, err
	}
	var mm *MM
	if img.Vfork {
		// The parent's RAM itself, as CLONE_VM: a dup the MM owns, and
		// a window of its own (the host has room for one window at a
		// time: ram's goes first).
		ram.Close()
		dup, derr := unix.FcntlInt(uintptr(parentRAM), unix.F_DUPFD_CLOEXEC, 0)
		if derr != nil {
			return nil, fmt.Errorf("fork: dup RAM: %w", derr)
		}
		snap.RAM = dup
		if mm, err = NewMMBorrowed(machine, forkAddrLimit, snap); err != nil {
			unix.Close(dup)
		}
	} else {
		ownVvar(machine, snap.Regions) // vdso_clock.go
		if mm, err = NewMMInto(machine, forkAddrLimit, snap, ram); err == nil {
			mm.trackForked(img.Writes) // mm_track.go
		}
	}
	taken = true
	if err != nil {
		return nil, fmt.Errorf("fork: rebuild the address space: %w", err)
	}
	fail := func(err error) (*Task, error) {
		mm.Close()
		return nil, err
	}
	cpu, err := machine.NewVCPU()
	if err != nil {
		return fail(fmt.Errorf("fork: create vcpu: %w", err))
	}
	if assigned != nil {
		if err := assigned(); err != nil {
			return fail(err)
		}
	}
	log := k.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	proc := &Process{
		Kernel: k, MM: mm, Mem: mm, FDs: emptyFDTable(), Signals: NewSignalHandlers(),
		Exe: img.Exe, Argv: img.Argv, Envp: img.Envp, Auxv: img.Auxv, vforked: img.Vfork,
	}
	proc.SetState(img.State)
	img.Sched.apply() // fork_sched.go: on the child's vCPU thread
	if err := proc.installForkFDs(img.FDs, at); err != nil {
		proc.FDs.CloseAll()
		return fail(err)
	}
	proc.Signals.actions = img.Actions
	t := &Task{Proc: proc, CPU: cpu, Log: log, inSyscall: -1, OrigRAX: noSyscall,
		SigMask: img.SigMask, AltStack: img.AltStack}
	if k.Host != nil {
		t.Tid = k.Host.Pid()
	}
	regs := img.Regs
	regs.RAX = 0
	*cpu.Regs() = regs
	cpu.SetFSBase(img.FSBase)
	cpu.SetGSBase(img.GSBase)
	if len(img.FP) > 0 {
		// The parent's image loads with the first run where the backend
		// can (hvf/ptrace): the child reports ready without waiting.
		set := cpu.SetFPState
		if l, ok := cpu.(interface{ SetFPStateAtRun([]byte) error }); ok {
			set = l.SetFPStateAtRun
		}
		if err := set(img.FP); err != nil {
			proc.FDs.CloseAll()
			return fail(fmt.Errorf("fork: restore FP state: %w", err))
		}
	}
	if img.ClearChildTID != 0 {
		t.ClearTID = img.ClearChildTID
	}
	if img.SetChildTID != 0 {
		// Linux writes it from the child (schedule_tail); a fault is
		// ignored there too.
		var b [4]byte
		tid := uint32(t.Tid)
		b[0], b[1], b[2], b[3] = byte(tid), byte(tid>>8), byte(tid>>16), byte(tid>>24)
		mm.CopyOut(img.SetChildTID, b[:])
	}
	return t, nil
}

// emptyFDTable returns a table with no descriptor at all (a fork child's,
// before installForkFDs): the guestproc's own 0, 1 and 2 stay its own.
func emptyFDTable() *FDTable {
	f := &FDTable{slots: make([]fdSlot, 0, 16)}
	f.limit.Store(DefaultNoFile)
	return f
}

// installForkFDs rebuilds the descriptor table from a fork image: the
// guest's numbers get duplicates of the parent's host descriptors.
func (p *Process) installForkFDs(fds []ForkFD, at func(int) (int, error)) error {
	for _, e := range fds {
		src, err := at(e.Index)
		if err != nil {
			return err
		}
		if e.Signalfd {
			if err := p.installForkSignalfd(e, src); err != nil {
				return err
			}
			continue
		}
		if e.Pidfd != 0 {
			if err := p.installForkPidfd(e, src); err != nil {
				return err
			}
			continue
		}
		fd, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return fmt.Errorf("fork: dup descriptor %d: %w", e.FD, err)
		}
		if err := p.FDs.InstallAt(e.FD, fd, e.CloseOnExec); err != nil {
			unix.Close(fd)
			return fmt.Errorf("fork: install descriptor %d: %w", e.FD, err)
		}
	}
	return nil
}

// ReleaseForReuse is ReleaseMachine for a guestproc that will run another
// process on the same Machine (a recycled fork child): the MM is closed
// and the Machine, when it can be recycled, is returned for the next
// process instead of being closed: an optional Recycle method removes
// every guest mapping, and RecycleKeeping (after a fork child that did
// not exec) leaves those of ram and the vDSO page, and read-only files,
// for the next process to claim by mapping them the same way
// (hvf/ptrace's layout.go, hvf's kvm_keep.go). Otherwise it is closed
// and nil is returned. The RAM, emptied, with its window
// (mm_childram.go), is kept when it can be, for the next fork child,
// whichever Machine it gets: a child copying into fresh RAM
// page-faulted its way through (1.9 ms of a 3.4 ms fork of 4 MiB on a
// PVM host, before KVM machines were recycled).
//
// Preconditions: as ReleaseMachine.
func (p *Process) ReleaseForReuse() (hvf.Machine, *ChildRAM) {
	m := p.MM
	if m == nil {
		return nil, nil
	}
	machine := m.machine
	// The MM frees the host side only: the Machine's side goes with
	// Recycle (the stub unmaps all of it at once) or Close. A guestproc
	// that ran a vfork child likely runs the next one too (posix_spawn
	// loops, make): such a child needs the window for the parent's RAM,
	// and dropping a kept one would be on its way. Kept for fork children
	// only.
	var ram *ChildRAM
	if p.vforked {
		m.Close()
	} else {
		ram = m.keepRAM()
	}
	var err error
	if k, ok := machine.(interface{ RecycleKeeping(fds []int) error }); ok && ram != nil && ram.kept {
		// A fork child that did not exec: the next fork child of this
		// guestproc (most often of the same parent) maps ram (and the
		// vDSO's data page) much as this process did, and the Machine
		// may keep those mappings. After an exec the layout is another
		// program's: keeping it would only move its unmapping onto the
		// next process's start.
		fds := []int{ram.fd}
		if c, cerr := vclockFor(machine); cerr == nil {
			fds = append(fds, c.fd)
		}
		err = k.RecycleKeeping(fds)
	} else if r, ok := machine.(interface{ Recycle() error }); ok {
		err = r.Recycle()
	} else {
		err = errors.ErrUnsupported
	}
	if err != nil {
		if machine != nil {
			machine.Close()
		}
		return nil, ram
	}
	return machine, ram
}
