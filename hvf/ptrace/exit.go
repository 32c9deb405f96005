package ptrace

import (
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// Linux si_code values (include/uapi/asm-generic/siginfo.h).
const (
	siKernel = 0x80

	segvMapErr = 1
	segvAccErr = 2
	segvBndErr = 3
	segvPkuErr = 4

	busAdrAln = 1

	fpeIntDiv = 1
	fpeIntOvf = 2

	trapBrkpt = 1
	trapTrace = 2
)

// pfProtKey is the protection-key bit of a page-fault error code.
const pfProtKey = 1 << 5

// fpuKind says, for a floating-point SIGFPE, which unit raised it.
type fpuKind int

const (
	fpuSIMD fpuKind = iota // #XM: an SSE/AVX instruction
	fpuX87                 // #MF: an x87 instruction
)

// classifySignal turns a signal-delivery stop of the stub into the exit the
// guest would have produced on hardware. ok is false when the signal does not
// come from a guest instruction (a kick, a kill from outside): that stop is an
// ExitInterrupted.
//
// rip is the stub's RIP at the stop (the faulting instruction for faults, the
// next one for traps). fpu is consulted only for floating-point SIGFPE.
func classifySignal(si sigInfo, rip uint64, fpu func() fpuKind) (exit hvf.Exit, ok bool) {
	// Signals sent by a process (kill, tgkill, sigqueue) have si_code <= 0.
	// Faults have a positive code, or SI_KERNEL for #GP and int3.
	if si.Code <= 0 {
		return hvf.Exit{}, false
	}
	ex := hvf.Exit{Reason: hvf.ExitException}
	switch unix.Signal(si.Signo) {
	case unix.SIGSEGV:
		switch si.Code {
		case segvMapErr, segvAccErr, segvPkuErr:
			ex.Vector = hvf.VectorPF
			ex.FaultAddr = si.Addr
			ex.ErrorCode = pfErrorCode(si, rip)
		case segvBndErr:
			ex.Vector = 5 // #BR
		default: // SI_KERNEL: #GP, #NP/#SS, int N with DPL 0
			ex.Vector = hvf.VectorGP
		}
	case unix.SIGBUS:
		if si.Code == busAdrAln {
			ex.Vector = hvf.VectorAC
			break
		}
		// BUS_ADRERR/BUS_OBJERR: the page is mapped but has no backing
		// (beyond the end of a file). Hardware saw a present-page fault
		// the host kernel could not satisfy.
		ex.Vector = hvf.VectorPF
		ex.FaultAddr = si.Addr
		ex.ErrorCode = hvf.PFPresent | hvf.PFUser
	case unix.SIGILL:
		ex.Vector = hvf.VectorUD
	case unix.SIGFPE:
		switch si.Code {
		case fpeIntDiv, fpeIntOvf:
			ex.Vector = hvf.VectorDE
		default:
			ex.Vector = hvf.VectorXM
			if fpu != nil && fpu() == fpuX87 {
				ex.Vector = hvf.VectorMF
			}
		}
	case unix.SIGTRAP:
		// On x86 int3 raises SIGTRAP with SI_KERNEL; every TRAP_* code
		// comes from #DB (TRAP_BRKPT from icebp, TRAP_TRACE from TF).
		if si.Code == siKernel {
			ex.Vector = hvf.VectorBP
		} else {
			ex.Vector = hvf.VectorDB
		}
	default:
		return hvf.Exit{}, false
	}
	return ex, true
}

// pfErrorCode rebuilds a page-fault error code from a SIGSEGV. Linux does
// not report the hardware error code through ptrace, so:
//   - present comes from the si_code (ACCERR/PKUERR: the page was mapped);
//   - instruction fetch is assumed when the address is RIP, or the start of
//     a page inside the instruction (a fetch that crossed a page);
//   - write is assumed for ACCERR data accesses, the usual cause (a read of
//     a PROT_NONE page is reported as a write too); for MAPERR it is unknown
//     and left clear.
func pfErrorCode(si sigInfo, rip uint64) uint64 {
	code := uint64(hvf.PFUser)
	instr := si.Addr == rip || (si.Addr > rip && si.Addr < rip+16 && si.Addr%pageSize == 0)
	if instr {
		code |= hvf.PFInstr
	}
	switch si.Code {
	case segvAccErr:
		code |= hvf.PFPresent
		if !instr {
			code |= hvf.PFWrite
		}
	case segvPkuErr:
		code |= hvf.PFPresent | pfProtKey
	}
	return code
}
