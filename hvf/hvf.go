// Package hvf is the hypervisor facade: a guest address space (Machine) and
// its CPUs (VCPU), with the exits a kernel-less x86-64 guest produces. It knows
// x86 (registers, exceptions, paging) but nothing about Linux system calls.
//
// Two backends implement it:
//   - kvm: one KVM VM per Machine, the guest in 64-bit ring 3, SYSCALL routed
//     through a trampoline that exits with KVM_EXIT_MMIO (see ../shared/KVM-NOTES.md);
//   - ptrace (package hvf/ptrace): a software fallback for hosts without a
//     usable /dev/kvm, running the guest in a stub host process under
//     PTRACE_SYSEMU.
//
// Both present the same contract: guest virtual address A is backed by the
// descriptor given to Machine.Map at the matching offset, and a syscall exit
// leaves the registers as if the SYSCALL instruction had completed (RIP is the
// return address, RFLAGS the user flags), so the kernel only sets RAX.
package hvf

import (
	"errors"
	"fmt"
)

// Prot is a set of page permissions.
type Prot uint8

// Page permissions.
const (
	ProtRead Prot = 1 << iota
	ProtWrite
	ProtExec
)

// Regs is the general-purpose register file of a vCPU, in the order of
// Linux's struct pt_regs (minus the segment and orig_ax fields).
type Regs struct {
	R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8 uint64
	RAX, RCX, RDX, RSI, RDI                        uint64
	RIP, RFLAGS, RSP                               uint64
}

// ExitReason says why VCPU.Run returned.
type ExitReason int

// Exit reasons.
const (
	// ExitSyscall: the guest executed SYSCALL. RAX holds the number,
	// RDI, RSI, RDX, R10, R8, R9 the arguments; RIP is already the return
	// address and RFLAGS the guest's flags. The kernel writes RAX and may
	// rewrite any register before the next Run.
	ExitSyscall ExitReason = iota + 1
	// ExitException: a CPU exception in the guest. Vector, ErrorCode and
	// (for #PF) FaultAddr are set; RIP is the faulting instruction (or the
	// next one for traps such as #BP).
	ExitException
	// ExitInterrupted: Kick was called, or a host signal interrupted the run.
	ExitInterrupted
)

// x86 exception vectors the backends report.
const (
	VectorDE = 0  // divide error
	VectorDB = 1  // debug
	VectorBP = 3  // breakpoint (int3)
	VectorOF = 4  // overflow
	VectorUD = 6  // invalid opcode
	VectorNM = 7  // device not available
	VectorGP = 13 // general protection
	VectorPF = 14 // page fault
	VectorMF = 16 // x87 FP error
	VectorAC = 17 // alignment check
	VectorXM = 19 // SIMD FP error
)

// Page-fault error code bits.
const (
	PFPresent = 1 << 0
	PFWrite   = 1 << 1
	PFUser    = 1 << 2
	PFInstr   = 1 << 4
)

// Exit describes one return from VCPU.Run.
type Exit struct {
	Reason    ExitReason
	Vector    uint8
	ErrorCode uint64
	FaultAddr uint64
}

// Config is what a backend needs to build a Machine.
type Config struct {
	// AddrLimit is the end of the guest's usable virtual address space.
	AddrLimit uint64
}

// Backend creates Machines.
type Backend interface {
	Name() string
	NewMachine(cfg Config) (Machine, error)
}

// Machine is one guest address space with its vCPUs.
type Machine interface {
	// Map makes the guest range [addr, addr+length) refer to fd at offset
	// off with the given permissions, replacing whatever was there.
	// addr, length and off are page aligned. The caller keeps fd open
	// while it is mapped (the backend may dup it).
	Map(addr, length uint64, prot Prot, fd int, off int64) error
	// Protect changes the permissions of a mapped range.
	Protect(addr, length uint64, prot Prot) error
	// Unmap removes a range; later guest accesses fault.
	Unmap(addr, length uint64) error
	// NewVCPU creates a vCPU. The caller must call its Run from one
	// goroutine locked to its OS thread (runtime.LockOSThread).
	NewVCPU() (VCPU, error)
	Close() error
}

// StubWatcher is implemented by Backends whose Machines run guest code in
// host processes of their own (hvf/ptrace's stubs), which end only after
// the process that made them when that one is killed.
type StubWatcher interface {
	// WatchStubs has fn called with a pidfd (fn's to close) of the stub
	// the backend holds and of every one it starts from now on.
	WatchStubs(fn func(pidfd int))
}

// ThreadMachine is implemented by Machines whose vCPU for a new guest
// thread is made in two steps on two OS threads (ptrace: the creating
// vCPU's stub thread clones the new one, which the new OS thread then
// traces).
type ThreadMachine interface {
	// PrepareVCPU is called on the OS thread of a vCPU stopped in an
	// exit (the one creating the thread). The function it returns is
	// called once, on the new vCPU's own locked OS thread, and makes the
	// vCPU.
	PrepareVCPU() (attach func() (VCPU, error), err error)
}

// PrepareThreadVCPU starts making the vCPU of a new guest thread of m, as
// ThreadMachine.PrepareVCPU; Machines without that step (KVM: a
// KVM_CREATE_VCPU on the same VM from any thread) make it in attach.
func PrepareThreadVCPU(m Machine) (attach func() (VCPU, error), err error) {
	if tm, ok := m.(ThreadMachine); ok {
		return tm.PrepareVCPU()
	}
	return m.NewVCPU, nil
}

// VCPU is one guest CPU.
type VCPU interface {
	// Regs returns the live register file. Edits take effect at the
	// next Run; the pointer stays valid for the life of the vCPU.
	Regs() *Regs
	// Run enters the guest and returns at the next exit.
	Run() (Exit, error)
	// Kick makes a current or the next Run return ExitInterrupted soon.
	// It may be called from any goroutine.
	Kick()
	FSBase() uint64
	SetFSBase(v uint64)
	GSBase() uint64
	SetGSBase(v uint64)
	// FPState returns the XSAVE image of the FPU/SSE/AVX state (at least
	// the 512-byte FXSAVE area; extended state follows when present).
	FPState() ([]byte, error)
	// SetFPState loads an image returned by FPState (possibly edited).
	SetFPState(b []byte) error
	Close() error
}

// RegsLoader is implemented by vCPUs whose syscall exits may carry only
// the syscall's number, arguments and RIP in Regs (hvf/ptrace's seccomp
// notifications): LoadRegs makes Regs whole, keeping what the caller
// changed since the exit. A kernel calls it before it reads any other
// register of a syscall exit (a signal frame saves them all).
type RegsLoader interface {
	LoadRegs() error
}

// LoadRegs makes v's registers whole where v is a RegsLoader; for any
// other vCPU they always are.
func LoadRegs(v VCPU) error {
	if l, ok := v.(RegsLoader); ok {
		return l.LoadRegs()
	}
	return nil
}

// ErrUnavailable wraps the reason a backend cannot run on this host.
var ErrUnavailable = errors.New("hypervisor unavailable")

// MapKind says which Machine method a MapOp stands for.
type MapKind uint8

// Kinds of MapOp.
const (
	OpMap MapKind = iota + 1
	OpProtect
	OpUnmap
)

// MapOp is one Machine.Map, Protect or Unmap call, for Apply.
type MapOp struct {
	Kind MapKind
	Addr uint64
	Len  uint64
	Prot Prot  // OpMap, OpProtect
	Fd   int   // OpMap
	Off  int64 // OpMap
}

// Batcher is implemented by Machines for which one call doing many memory
// operations is much cheaper than one call each (the ptrace backend: each
// call is a round trip to the stub process).
type Batcher interface {
	// Apply runs ops in order with the semantics of the matching Machine
	// methods and stops at the first failure. It returns how many ops
	// completed (their effects stand) and, when one failed, an error
	// naming it; the failed op and the ones after it had no effect.
	Apply(ops []MapOp) (done int, err error)
}

// Apply runs ops on m in order, in one Batcher call when m implements
// Batcher, else one method call each (KVM: each is an in-process page-table
// update, nothing to batch). It returns how many ops completed before the
// first failure, as Batcher.Apply.
func Apply(m Machine, ops []MapOp) (int, error) {
	if len(ops) == 0 {
		return 0, nil
	}
	if b, ok := m.(Batcher); ok {
		return b.Apply(ops)
	}
	for i, op := range ops {
		if err := op.On(m); err != nil {
			return i, err
		}
	}
	return len(ops), nil
}

// On runs op as one call of the matching method of m.
func (op MapOp) On(m Machine) error {
	switch op.Kind {
	case OpMap:
		return m.Map(op.Addr, op.Len, op.Prot, op.Fd, op.Off)
	case OpProtect:
		return m.Protect(op.Addr, op.Len, op.Prot)
	case OpUnmap:
		return m.Unmap(op.Addr, op.Len)
	}
	return fmt.Errorf("hvf: unknown memory operation kind %d", op.Kind)
}
