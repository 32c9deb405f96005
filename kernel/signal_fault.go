package kernel

// CPU exceptions become signals here, with the siginfo Linux's trap
// handlers (arch/x86/kernel/traps.c, mm/fault.c) would give.

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// Exception vectors hvf does not name.
const (
	vectorTS = 10 // invalid TSS
	vectorNP = 11 // segment not present
	vectorSS = 12 // stack-segment fault
)

// Debug-status (DR6) bits a #DB exit carries in its error code.
const (
	dr6Trap0to3 = 0xf
	dr6Step     = 1 << 14
)

// TRAP_HWBKPT is the si_code of a hardware breakpoint hit.
const trapHWBKPT = 4

// taskSizeMax is Linux's TASK_SIZE_MAX with 4-level paging: a #PF at or
// above it reports the protection bit in the error code.
const taskSizeMax = 1<<47 - abi.PageSize

// mappingLookup is how a fault finds out whether its address is mapped:
// MM.Lookup in a running process, a fake in tests.
type mappingLookup interface {
	Lookup(addr abi.Addr) (prot hvf.Prot, ok bool)
}

// lookupMapping reports whether addr is inside a mapping and with which
// permissions; known=false when no lookup is available (then the
// page-fault error code decides).
func (t *Task) lookupMapping(addr abi.Addr) (prot hvf.Prot, mapped, known bool) {
	var l mappingLookup
	if m, ok := t.Proc.Mem.(mappingLookup); ok {
		l = m
	} else if m, ok := any(t.Proc.MM).(mappingLookup); ok && t.Proc.MM != nil {
		l = m
	}
	if l == nil {
		return 0, false, false
	}
	prot, mapped = l.Lookup(addr)
	return prot, mapped, true
}

// HandleException turns a CPU exception into a forced signal: if the
// thread blocks or ignores it, the default action (death) applies.
func (t *Task) HandleException(e hvf.Exit) {
	t.Proc.sigHandlers()
	regs := t.CPU.Regs()
	t.OrigRAX = noSyscall
	info, ok := t.faultInfo(e, regs.RIP)
	errCode := e.ErrorCode
	var cr2 uint64
	if e.Vector == hvf.VectorPF {
		cr2 = e.FaultAddr
		if cr2 >= taskSizeMax {
			errCode |= hvf.PFPresent
		}
	}
	s := t.Proc.Signals
	s.mu.Lock()
	t.SigState.trapNo, t.SigState.errCode, t.SigState.cr2 = uint64(e.Vector), errCode, cr2
	s.mu.Unlock()
	if !ok {
		return
	}
	if t.Log.IsDebug() {
		t.Log.Debug("guest exception", "vector", e.Vector, "error_code", e.ErrorCode,
			"addr", hexAddr(e.FaultAddr), "rip", hexAddr(regs.RIP),
			"sig", info.Signo, "code", info.Code)
	}
	t.forceSignal(&info)
}

// faultInfo maps an exception to its siginfo; ok=false means no signal
// (a spurious FPU exception, as Linux does).
func (t *Task) faultInfo(e hvf.Exit, rip uint64) (abi.Siginfo, bool) {
	fault := func(sig int, code int32, addr uint64) (abi.Siginfo, bool) {
		info := abi.Siginfo{Signo: int32(sig), Code: code}
		info.SetAddr(abi.Addr(addr))
		return info, true
	}
	kernel := func(sig int) (abi.Siginfo, bool) {
		return abi.Siginfo{Signo: int32(sig), Code: abi.SI_KERNEL}, true
	}
	switch e.Vector {
	case hvf.VectorPF:
		return t.pageFaultInfo(e)
	case hvf.VectorGP, hvf.VectorOF, vectorTS:
		return kernel(abi.SIGSEGV)
	case vectorNP, vectorSS:
		return kernel(abi.SIGBUS)
	case hvf.VectorUD:
		return fault(abi.SIGILL, abi.ILL_ILLOPN, rip)
	case hvf.VectorDE:
		return fault(abi.SIGFPE, abi.FPE_INTDIV, rip)
	case hvf.VectorMF, hvf.VectorXM:
		code := t.fpuExceptionCode(e.Vector)
		if code == 0 {
			t.Log.Debug("spurious FPU exception ignored", "vector", e.Vector)
			return abi.Siginfo{}, false
		}
		return fault(abi.SIGFPE, code, rip)
	case hvf.VectorBP:
		return kernel(abi.SIGTRAP)
	case hvf.VectorDB:
		code := int32(abi.TRAP_BRKPT)
		switch {
		case e.ErrorCode&dr6Step != 0:
			code = abi.TRAP_TRACE
		case e.ErrorCode&dr6Trap0to3 != 0:
			code = trapHWBKPT
		}
		return fault(abi.SIGTRAP, code, rip)
	case hvf.VectorAC:
		return fault(abi.SIGBUS, abi.BUS_ADRALN, 0)
	}
	t.Log.Warn("unexpected guest exception; raising SIGSEGV", "vector", e.Vector,
		"error_code", e.ErrorCode, "rip", hexAddr(rip))
	return kernel(abi.SIGSEGV)
}

// pageFaultInfo classifies a #PF: an address outside every mapping is
// SEGV_MAPERR, a mapping without the needed permission SEGV_ACCERR, and a
// permitted access that still faulted SIGBUS BUS_ADRERR: a file mapping
// past the end of its file (the ptrace backend reports the host's SIGBUS
// as a present, user, read #PF; a present page cannot fault on a
// permitted read otherwise).
func (t *Task) pageFaultInfo(e hvf.Exit) (abi.Siginfo, bool) {
	addr := abi.Addr(e.FaultAddr)
	info := abi.Siginfo{Signo: abi.SIGSEGV}
	info.SetAddr(addr)
	if uint64(addr) >= taskSizeMax {
		info.Code = abi.SEGV_MAPERR
		return info, true
	}
	prot, mapped, known := t.lookupMapping(addr)
	if !known {
		if e.ErrorCode&hvf.PFPresent != 0 {
			info.Code = abi.SEGV_ACCERR
		} else {
			info.Code = abi.SEGV_MAPERR
		}
		return info, true
	}
	if !mapped {
		info.Code = abi.SEGV_MAPERR
		return info, true
	}
	need := hvf.ProtRead
	switch {
	case e.ErrorCode&hvf.PFWrite != 0:
		need = hvf.ProtWrite
	case e.ErrorCode&hvf.PFInstr != 0:
		need = hvf.ProtExec
	}
	if prot&need == 0 {
		info.Code = abi.SEGV_ACCERR
		return info, true
	}
	info.Signo, info.Code = abi.SIGBUS, abi.BUS_ADRERR
	return info, true
}

// fpuExceptionCode is Linux's fpu__exception_code: which unmasked x87
// (#MF) or SIMD (#XM) exception fired, as an FPE_* code, 0 if none.
func (t *Task) fpuExceptionCode(vector uint8) int32 {
	img, err := t.CPU.FPState()
	if err != nil || len(img) < abi.FXSAVE_MXCSR+4 {
		t.Log.Warn("cannot read FP state for an FPU exception", "error", err)
		return abi.FPE_FLTINV
	}
	le := binary.LittleEndian
	var bits uint32
	if vector == hvf.VectorMF {
		cwd := uint32(le.Uint16(img[abi.FXSAVE_FCW:]))
		swd := uint32(le.Uint16(img[abi.FXSAVE_FSW:]))
		bits = swd &^ cwd
	} else {
		mxcsr := le.Uint32(img[abi.FXSAVE_MXCSR:])
		bits = ^(mxcsr >> 7) & mxcsr
	}
	switch {
	case bits&0x01 != 0: // invalid operation
		return abi.FPE_FLTINV
	case bits&0x04 != 0: // divide by zero
		return abi.FPE_FLTDIV
	case bits&0x08 != 0: // overflow
		return abi.FPE_FLTOVF
	case bits&0x12 != 0: // denormal, underflow
		return abi.FPE_FLTUND
	case bits&0x20 != 0: // precision
		return abi.FPE_FLTRES
	}
	return 0
}
