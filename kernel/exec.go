package kernel

import (
	"fmt"

	"github.com/elfuse/elfuse/hvf"
	"github.com/hashicorp/go-hclog"
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
	x, err := OpenExecutable(path)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	machine, err := k.Backend.NewMachine(hvf.Config{AddrLimit: uint64(AddrLimit)})
	if err != nil {
		return nil, fmt.Errorf("%s: create machine: %w", path, err)
	}
	mm, err := NewMM(machine, AddrLimit)
	if err != nil {
		machine.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fail := func(err error) (*Task, error) {
		mm.Close()
		machine.Close()
		return nil, err
	}
	img, err := x.Load(mm, argv, envp)
	if err != nil {
		return fail(err)
	}
	cpu, err := machine.NewVCPU()
	if err != nil {
		return fail(fmt.Errorf("%s: create vcpu: %w", path, err))
	}
	*cpu.Regs() = hvf.Regs{RIP: uint64(img.Entry), RSP: uint64(img.SP), RFLAGS: initialRFLAGS}

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
		Argv:    append([]string(nil), argv...),
		Envp:    append([]string(nil), envp...),
		Auxv:    img.Auxv,
	}
	t := &Task{Proc: proc, CPU: cpu, Log: log, inSyscall: -1}
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
