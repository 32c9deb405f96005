package kernel

// The x86-64 rt signal frame, laid out exactly as Linux's
// x64_setup_rt_frame does (arch/x86/kernel/signal_64.c):
//
//	high  original rsp
//	      red zone (128 bytes, skipped)
//	      [alternate stack top, with SA_ONSTACK]
//	      FP state: XSAVE image, 64-byte aligned, + FP_XSTATE_MAGIC2
//	      struct rt_sigframe {
//	          pretcode   = sa_restorer      <- rsp at handler entry
//	          struct ucontext uc            <- rdx
//	          struct siginfo info           <- rsi (written with SA_SIGINFO)
//	      }                                 (rsp+8 is 16-byte aligned)
//	low

import (
	"errors"
	"fmt"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// redZone is the x86-64 ABI's red zone below rsp that a frame must skip.
const redZone = 128

// frameAlign is the stack alignment at a call: rsp+8 is a multiple of it.
const frameAlign = 16

// errBadFrame is why a frame could not be built or read back.
var errBadFrame = errors.New("bad signal frame")

// onSigStack is Linux's on_sig_stack: is sp on the alternate stack? With
// SS_AUTODISARM the answer is always no.
func (t *Task) onSigStack(sp abi.Addr) bool {
	if t.AltStack.Flags&abi.SS_AUTODISARM != 0 {
		return false
	}
	return t.AltStack.Contains(sp)
}

// sasFlags is Linux's sas_ss_flags: SS_DISABLE, SS_ONSTACK or 0.
func (t *Task) sasFlags(sp abi.Addr) uint32 {
	if t.AltStack.Size == 0 {
		return abi.SS_DISABLE
	}
	if t.onSigStack(sp) {
		return abi.SS_ONSTACK
	}
	return 0
}

// setupRtFrame writes the frame for sig and points the registers at the
// handler. It fails, leaving the registers alone, when the frame cannot
// be written (the caller then forces SIGSEGV).
func (t *Task) setupRtFrame(sig int, info *abi.Siginfo, act *abi.Sigaction, oldMask abi.SigSet) error {
	// x86-64 always uses SA_RESTORER; without it Linux refuses.
	if act.Flags&abi.SA_RESTORER == 0 {
		return fmt.Errorf("%w: no SA_RESTORER", errBadFrame)
	}
	// A syscall exit may have brought only the syscall's registers
	// (hvf/ptrace's notifications); the frame saves them all.
	if err := hvf.LoadRegs(t.CPU); err != nil {
		return fmt.Errorf("%w: %v", errBadFrame, err)
	}
	regs := t.CPU.Regs()
	origSP := abi.Addr(regs.RSP)
	sp := origSP - redZone

	nested := t.onSigStack(origSP)
	entering := false
	if act.Flags&abi.SA_ONSTACK != 0 && t.sasFlags(sp) == 0 {
		sp = t.AltStack.SP + abi.Addr(t.AltStack.Size)
		entering = true
	}
	top := sp

	var (
		fp      fpImage
		fpBytes []byte
		fpAddr  abi.Addr
		ucFlags uint64 = abi.UC_SIGCONTEXT_SS | abi.UC_STRICT_RESTORE_SS
	)
	img, err := t.CPU.FPState()
	if err != nil {
		t.Log.Warn("cannot read FP state for a signal frame; handler returns without it",
			"error", err)
	} else {
		fp = newFPImage(img)
		fpBytes = fp.frameBytes()
		sp = (sp - abi.Addr(len(fpBytes))) &^ 63
		fpAddr = sp
		if fp.xsave {
			ucFlags |= abi.UC_FP_XSTATE
		}
	}

	sp -= abi.SizeofRtSigframe
	sp = sp&^(frameAlign-1) - 8
	if sp > top || top > origSP && !entering {
		return fmt.Errorf("%w: stack wraps", errBadFrame)
	}
	// Overflowing the alternate stack must not scribble below it.
	if (nested || entering) && !t.AltStack.Contains(sp) {
		return fmt.Errorf("%w: alternate signal stack overflow", errBadFrame)
	}

	trapNo, errCode, cr2 := t.trapInfo()
	uc := abi.UContext{
		Flags: ucFlags,
		Stack: abi.StackT{SP: t.AltStack.SP, Flags: t.AltStack.Flags, Size: t.AltStack.Size},
		MContext: abi.Sigcontext{
			R8: regs.R8, R9: regs.R9, R10: regs.R10, R11: regs.R11,
			R12: regs.R12, R13: regs.R13, R14: regs.R14, R15: regs.R15,
			RDI: regs.RDI, RSI: regs.RSI, RBP: regs.RBP, RBX: regs.RBX,
			RDX: regs.RDX, RAX: regs.RAX, RCX: regs.RCX, RSP: regs.RSP,
			RIP: regs.RIP, EFLAGS: regs.RFLAGS,
			CS: abi.USER_CS, SS: abi.USER_DS,
			Err: errCode, Trapno: trapNo, Oldmask: uint64(oldMask), CR2: cr2,
			Fpstate: fpAddr,
		},
		Sigmask: oldMask,
	}
	var frame [abi.RtSigframeInfoOffset]byte
	putU64(frame[abi.RtSigframePretcodeOffset:], uint64(act.Restorer))
	uc.MarshalBytes(frame[abi.RtSigframeUcOffset:])

	if fpBytes != nil {
		if _, err := t.CopyOut(fpAddr, fpBytes); err != nil {
			return fmt.Errorf("%w: fpstate at %#x: %w", errBadFrame, fpAddr, err)
		}
	}
	if _, err := t.CopyOut(sp, frame[:]); err != nil {
		return fmt.Errorf("%w: frame at %#x: %w", errBadFrame, sp, err)
	}
	if act.Flags&abi.SA_SIGINFO != 0 {
		var b [abi.SizeofSiginfo]byte
		info.MarshalBytes(b[:])
		if _, err := t.CopyOut(sp+abi.RtSigframeInfoOffset, b[:]); err != nil {
			return fmt.Errorf("%w: siginfo: %w", errBadFrame, err)
		}
	}

	regs.RDI = uint64(sig)
	regs.RAX = 0 // for handlers declared without a prototype
	regs.RSI = uint64(sp + abi.RtSigframeInfoOffset)
	regs.RDX = uint64(sp + abi.RtSigframeUcOffset)
	regs.RIP = uint64(act.Handler)
	regs.RSP = uint64(sp)
	regs.RFLAGS &^= abi.X86_EFLAGS_DF | abi.X86_EFLAGS_RF | abi.X86_EFLAGS_TF

	// The handler starts with a clean FPU, as on Linux.
	if fpBytes != nil {
		if err := t.CPU.SetFPState(fp.initImage()); err != nil {
			t.Log.Warn("cannot reset FP state for a signal handler", "error", err)
		}
	}
	return nil
}

// trapInfo returns the last exception's trapno, error code and cr2.
func (t *Task) trapInfo() (trapNo, errCode, cr2 uint64) {
	s := t.Proc.Signals
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.SigState.trapNo, t.SigState.errCode, t.SigState.cr2
}

// restoreRtFrame is the body of rt_sigreturn: the handler's ret popped
// pretcode, so the frame starts 8 bytes below rsp. It restores the mask,
// every register, the FP state and the alternate stack.
func (t *Task) restoreRtFrame() error {
	regs := t.CPU.Regs()
	frame := abi.Addr(regs.RSP) - 8
	var buf [abi.SizeofUcontext]byte
	if _, err := t.CopyIn(frame+abi.RtSigframeUcOffset, buf[:]); err != nil {
		return fmt.Errorf("%w: ucontext at %#x: %w", errBadFrame, frame+abi.RtSigframeUcOffset, err)
	}
	var uc abi.UContext
	uc.UnmarshalBytes(buf[:])
	t.setSigMask(uc.Sigmask)

	sc := &uc.MContext
	// Only 64-bit user code runs here: a frame asking for another code
	// segment would make Linux's IRET fault or leave 64-bit mode.
	if sc.CS|3 != abi.USER_CS {
		return fmt.Errorf("%w: cs %#x", errBadFrame, sc.CS)
	}
	if sc.SS|3 != abi.USER_DS && uc.Flags&abi.UC_STRICT_RESTORE_SS != 0 {
		return fmt.Errorf("%w: ss %#x", errBadFrame, sc.SS)
	}
	fpState, err := t.fpFromFrame(sc.Fpstate)
	if err != nil {
		return err
	}

	regs.R8, regs.R9, regs.R10, regs.R11 = sc.R8, sc.R9, sc.R10, sc.R11
	regs.R12, regs.R13, regs.R14, regs.R15 = sc.R12, sc.R13, sc.R14, sc.R15
	regs.RDI, regs.RSI, regs.RBP, regs.RBX = sc.RDI, sc.RSI, sc.RBP, sc.RBX
	regs.RDX, regs.RAX, regs.RCX = sc.RDX, sc.RAX, sc.RCX
	regs.RSP, regs.RIP = sc.RSP, sc.RIP
	regs.RFLAGS = regs.RFLAGS&^abi.FIX_EFLAGS | sc.EFLAGS&abi.FIX_EFLAGS
	// No restart processing for the registers just restored.
	t.OrigRAX = noSyscall

	if fpState != nil {
		if err := t.CPU.SetFPState(fpState); err != nil {
			return fmt.Errorf("%w: fpstate rejected: %w", errBadFrame, err)
		}
	}

	// Linux ignores every error of this step but EFAULT (which it cannot
	// get here: the ucontext was read whole).
	_ = t.sigaltstack(&uc.Stack, abi.Addr(regs.RSP))
	return nil
}

// fpFromFrame reads the FP state a frame points at and returns the image
// to load; a nil fpstate pointer means "reset the FPU".
func (t *Task) fpFromFrame(addr abi.Addr) ([]byte, error) {
	img, err := t.CPU.FPState()
	if err != nil {
		t.Log.Warn("cannot read FP state at sigreturn; leaving it", "error", err)
		return nil, nil
	}
	fp := newFPImage(img)
	if addr == 0 {
		return fp.initImage(), nil
	}
	align := abi.Addr(16)
	if fp.xsave {
		align = 64
	}
	if addr&(align-1) != 0 {
		return nil, fmt.Errorf("%w: fpstate %#x misaligned", errBadFrame, addr)
	}
	buf := make([]byte, fp.frameSize())
	if _, err := t.CopyIn(addr, buf); err != nil {
		return nil, fmt.Errorf("%w: fpstate at %#x: %w", errBadFrame, addr, err)
	}
	out, err := fp.fromFrame(buf)
	if err != nil {
		return nil, fmt.Errorf("%w: fpstate at %#x: %w", errBadFrame, addr, err)
	}
	return out, nil
}
