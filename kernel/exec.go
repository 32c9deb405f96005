package kernel

import (
	"fmt"
	"path/filepath"

	"github.com/elfuse/elfuse/hvf"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// initialRFLAGS is the user flags at process start (IF and the reserved
// bit 1), as Linux's start_thread leaves them.
const initialRFLAGS = 0x202

// StartProcess loads the ELF at path (host path) with argv/envp into a new
// address space on a new Machine and returns the first task, registers set
// at the entry point. Errors wrap an abi.Errno: ENOENT, EACCES, ENOEXEC
// (with the reason), ENOMEM, E2BIG.
//
// Preconditions: the caller runs on the goroutine, locked to its OS thread,
// that will run the task (hvf: Machine methods come from that thread).
func (k *Kernel) StartProcess(path string, argv, envp []string) (*Task, error) {
	x, err := OpenExecutableWith(path, k.Opener())
	if err != nil {
		return nil, err
	}
	defer x.Close()
	machine, err := k.Backend.NewMachine(hvf.Config{AddrLimit: uint64(AddrLimit)})
	if err != nil {
		return nil, fmt.Errorf("%s: create machine: %w", path, err)
	}
	// The image's mappings reach the Machine in one batch (machineQueue).
	q := newMachineQueue(machine)
	mm, err := NewMM(q, AddrLimit)
	if err != nil {
		machine.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fail := func(err error) (*Task, error) {
		q.discard()
		mm.Close()
		machine.Close()
		return nil, err
	}
	img, err := x.Load(mm, argv, envp)
	if err != nil {
		return fail(err)
	}
	mm.setMachine(machine)
	if err := q.flush(); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	cpu, err := machine.NewVCPU()
	if err != nil {
		return fail(fmt.Errorf("%s: create vcpu: %w", path, err))
	}

	log := k.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	proc := &Process{
		Kernel:  k,
		MM:      mm,
		Mem:     mm,
		FDs:     NewFDTable(),
		Signals: NewSignalHandlers(),
		Exe:     x.Resolved,
		Argv:    img.Argv,
		Envp:    append([]string(nil), envp...),
		Auxv:    img.Auxv,
	}
	proc.InitState()
	// Named after the file it was asked to run, as execve names it, not
	// after a symlink's target (python3, not python3.11).
	proc.SetComm(filepath.Base(x.Path))
	proc.noteImage(x) // textbusy.go
	t := &Task{Proc: proc, CPU: cpu, Log: log, inSyscall: -1, OrigRAX: noSyscall}
	*cpu.Regs() = hvf.Regs{RIP: uint64(img.Entry), RSP: uint64(img.SP), RFLAGS: initialRFLAGS}
	if k.Host != nil {
		t.Tid = k.Host.Pid()
	}
	if log.IsDebug() {
		log.Debug("process image loaded", "path", path, "entry", fmt.Sprintf("%#x", uint64(img.Entry)),
			"sp", fmt.Sprintf("%#x", uint64(img.SP)), "brk", fmt.Sprintf("%#x", uint64(img.Brk)),
			"interp", x.Interp())
	}
	return t, nil
}

// Exec replaces the process image with x, as execve(2) does after its point
// of no return: the old address space is torn down (its mappings leave the
// Machine and its memory goes back to the host) and a fresh one holding x
// is built on the same Machine. On error the process has no usable image
// and must be killed (SIGSEGV, as Linux does).
//
// The old MM is closed before the new one is made because each holds a
// host window as large as the guest address space (64 TiB): two do not fit
// in the host's 128 TiB. Callers check the executable with OpenExecutable
// first, so ordinary errors (ENOENT, EACCES, ENOEXEC) leave the caller
// intact. Descriptors, signal dispositions and other threads are the
// caller's business.
//
// Preconditions: called on the vCPU thread; no other task of p runs.
func (p *Process) Exec(x *Executable, argv, envp []string) (*Image, error) {
	old := p.MM
	machine := old.machine
	// The old image's unmaps and the new one's maps reach the Machine in
	// one batch (machineQueue). On failure what was queued still runs, so
	// that the Machine holds no more than the old code left in it.
	q := newMachineQueue(machine)
	old.setMachine(q)
	ram, window, err := old.releaseForExec()
	old.setMachine(machine)
	if err != nil {
		q.flush()
		return nil, fmt.Errorf("%s: tear down the old image: %w", x.Path, err)
	}
	var mm *MM
	if ram >= 0 && old.limit == AddrLimit {
		mm = newMMWith(q, AddrLimit, ram, window)
	} else {
		if ram >= 0 {
			unmapWindow(window)
			unix.Close(ram)
		}
		if mm, err = NewMM(q, AddrLimit); err != nil {
			q.flush()
			return nil, fmt.Errorf("%s: %w", x.Path, err)
		}
	}
	img, err := x.Load(mm, argv, envp)
	mm.setMachine(machine)
	if ferr := q.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("%s: %w", x.Path, ferr)
	}
	if err != nil {
		mm.Close()
		return nil, err
	}
	p.mu.Lock()
	p.MM, p.Mem = mm, mm
	p.Exe = x.Resolved
	p.Argv = img.Argv
	p.Envp = append([]string(nil), envp...)
	p.Auxv = img.Auxv
	p.mu.Unlock()
	p.noteImage(x) // textbusy.go
	return img, nil
}

// ResetRegisters puts the task at the start of img: RIP at the entry, RSP
// at argc, RFLAGS 0x202, every other register and the FS/GS bases zero (as
// Linux's start_thread). The FPU state is the caller's (signals helper).
func (t *Task) ResetRegisters(img *Image) {
	*t.CPU.Regs() = hvf.Regs{RIP: uint64(img.Entry), RSP: uint64(img.SP), RFLAGS: initialRFLAGS}
	t.CPU.SetFSBase(0)
	t.CPU.SetGSBase(0)
}
