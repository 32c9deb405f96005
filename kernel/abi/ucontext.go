package abi

import "encoding/binary"

// x86-64 user segment selectors (Linux GDT layout).
const (
	USER32_CS = 0x23
	USER_DS   = 0x2b
	USER_CS   = 0x33
)

// RFLAGS bits (asm/processor-flags.h).
const (
	X86_EFLAGS_CF = 1 << 0
	X86_EFLAGS_PF = 1 << 2
	X86_EFLAGS_AF = 1 << 4
	X86_EFLAGS_ZF = 1 << 6
	X86_EFLAGS_SF = 1 << 7
	X86_EFLAGS_TF = 1 << 8
	X86_EFLAGS_IF = 1 << 9
	X86_EFLAGS_DF = 1 << 10
	X86_EFLAGS_OF = 1 << 11
	X86_EFLAGS_RF = 1 << 16
	X86_EFLAGS_AC = 1 << 18

	// FIX_EFLAGS are the flags rt_sigreturn takes from the frame; every
	// other bit keeps its current value.
	FIX_EFLAGS = X86_EFLAGS_AC | X86_EFLAGS_OF | X86_EFLAGS_DF | X86_EFLAGS_TF |
		X86_EFLAGS_SF | X86_EFLAGS_ZF | X86_EFLAGS_AF | X86_EFLAGS_PF |
		X86_EFLAGS_CF | X86_EFLAGS_RF
)

// uc_flags bits (asm/ucontext.h).
const (
	UC_FP_XSTATE         = 0x1
	UC_SIGCONTEXT_SS     = 0x2
	UC_STRICT_RESTORE_SS = 0x4
)

// Extended FP state in signal frames (asm/sigcontext.h).
const (
	FP_XSTATE_MAGIC1      = 0x46505853
	FP_XSTATE_MAGIC2      = 0x46505845
	FP_XSTATE_MAGIC2_SIZE = 4

	// Offsets inside the 512-byte FXSAVE area and the XSAVE header.
	FXSAVE_FCW        = 0
	FXSAVE_FSW        = 2
	FXSAVE_MXCSR      = 24
	FXSAVE_MXCSR_MASK = 28
	FXSAVE_SW_BYTES   = 464 // struct _fpx_sw_bytes (sw_reserved)
	FXSAVE_SIZE       = 512
	XSAVE_HDR_OFFSET  = 512 // xstate_bv, xcomp_bv, reserved
	XSAVE_HDR_SIZE    = 64
	XSAVE_MIN_SIZE    = FXSAVE_SIZE + XSAVE_HDR_SIZE

	// XFEATURE_MASK_FPSSE is x87 | SSE.
	XFEATURE_MASK_FPSSE = 0x3
	// MXCSR_DEFAULT and FCW_DEFAULT are the values after FNINIT/reset.
	MXCSR_DEFAULT = 0x1f80
	FCW_DEFAULT   = 0x037f
)

// FPXSwBytes is struct _fpx_sw_bytes, the software-reserved tail of the
// FXSAVE area that marks an extended (XSAVE) signal-frame image.
type FPXSwBytes struct {
	Magic1       uint32
	ExtendedSize uint32 // xstate_size + FP_XSTATE_MAGIC2_SIZE
	XFeatures    uint64 // features present in the image
	XStateSize   uint32 // XSAVE image size, without MAGIC2
	// padding[7] follows (zero).
}

// MarshalBytes writes the 48 bytes of sw_reserved into dst.
func (f *FPXSwBytes) MarshalBytes(dst []byte) {
	le := binary.LittleEndian
	le.PutUint32(dst[0:], f.Magic1)
	le.PutUint32(dst[4:], f.ExtendedSize)
	le.PutUint64(dst[8:], f.XFeatures)
	le.PutUint32(dst[16:], f.XStateSize)
	clear(dst[20:48])
}

// UnmarshalBytes reads sw_reserved.
func (f *FPXSwBytes) UnmarshalBytes(src []byte) {
	le := binary.LittleEndian
	f.Magic1 = le.Uint32(src[0:])
	f.ExtendedSize = le.Uint32(src[4:])
	f.XFeatures = le.Uint64(src[8:])
	f.XStateSize = le.Uint32(src[16:])
}

// Sigcontext is struct sigcontext (x86-64): the interrupted registers in a
// signal frame.
type Sigcontext struct {
	R8, R9, R10, R11, R12, R13, R14, R15 uint64
	RDI, RSI, RBP, RBX, RDX, RAX, RCX    uint64
	RSP, RIP, EFLAGS                     uint64
	CS, GS, FS, SS                       uint16
	Err, Trapno, Oldmask, CR2            uint64
	Fpstate                              Addr // struct _fpstate *, 0 if none
	Reserved1                            [8]uint64
}

// Sizes and offsets of the x86-64 rt signal frame (asm/sigframe.h,
// asm/ucontext.h), checked by tests against the C headers' values.
const (
	SizeofSigcontext = 256
	SizeofUcontext   = 304 // the kernel's struct ucontext, not glibc's ucontext_t
	SizeofRtSigframe = 440

	UcontextFlagsOffset    = 0
	UcontextLinkOffset     = 8
	UcontextStackOffset    = 16
	UcontextMcontextOffset = 40
	UcontextSigmaskOffset  = 296

	RtSigframePretcodeOffset = 0
	RtSigframeUcOffset       = 8
	RtSigframeInfoOffset     = RtSigframeUcOffset + SizeofUcontext // 312

	SigcontextRSPOffset     = 120
	SigcontextRIPOffset     = 128
	SigcontextEFLAGSOffset  = 136
	SigcontextCSOffset      = 144
	SigcontextErrOffset     = 152
	SigcontextTrapnoOffset  = 160
	SigcontextOldmaskOffset = 168
	SigcontextCR2Offset     = 176
	SigcontextFpstateOffset = 184
)

// MarshalBytes encodes c into dst[:SizeofSigcontext].
func (c *Sigcontext) MarshalBytes(dst []byte) {
	le := binary.LittleEndian
	gp := [...]uint64{c.R8, c.R9, c.R10, c.R11, c.R12, c.R13, c.R14, c.R15,
		c.RDI, c.RSI, c.RBP, c.RBX, c.RDX, c.RAX, c.RCX, c.RSP, c.RIP, c.EFLAGS}
	for i, v := range gp {
		le.PutUint64(dst[8*i:], v)
	}
	le.PutUint16(dst[144:], c.CS)
	le.PutUint16(dst[146:], c.GS)
	le.PutUint16(dst[148:], c.FS)
	le.PutUint16(dst[150:], c.SS)
	le.PutUint64(dst[152:], c.Err)
	le.PutUint64(dst[160:], c.Trapno)
	le.PutUint64(dst[168:], c.Oldmask)
	le.PutUint64(dst[176:], c.CR2)
	le.PutUint64(dst[184:], uint64(c.Fpstate))
	for i, v := range c.Reserved1 {
		le.PutUint64(dst[192+8*i:], v)
	}
}

// UnmarshalBytes decodes c from src[:SizeofSigcontext].
func (c *Sigcontext) UnmarshalBytes(src []byte) {
	le := binary.LittleEndian
	gp := [...]*uint64{&c.R8, &c.R9, &c.R10, &c.R11, &c.R12, &c.R13, &c.R14, &c.R15,
		&c.RDI, &c.RSI, &c.RBP, &c.RBX, &c.RDX, &c.RAX, &c.RCX, &c.RSP, &c.RIP, &c.EFLAGS}
	for i, p := range gp {
		*p = le.Uint64(src[8*i:])
	}
	c.CS = le.Uint16(src[144:])
	c.GS = le.Uint16(src[146:])
	c.FS = le.Uint16(src[148:])
	c.SS = le.Uint16(src[150:])
	c.Err = le.Uint64(src[152:])
	c.Trapno = le.Uint64(src[160:])
	c.Oldmask = le.Uint64(src[168:])
	c.CR2 = le.Uint64(src[176:])
	c.Fpstate = Addr(le.Uint64(src[184:]))
	for i := range c.Reserved1 {
		c.Reserved1[i] = le.Uint64(src[192+8*i:])
	}
}

// UContext is the kernel's struct ucontext on x86-64.
type UContext struct {
	Flags    uint64 // uc_flags
	Link     Addr   // uc_link
	Stack    StackT // uc_stack
	MContext Sigcontext
	Sigmask  SigSet // uc_sigmask (the kernel's 8-byte sigset)
}

// MarshalBytes encodes u into dst[:SizeofUcontext].
func (u *UContext) MarshalBytes(dst []byte) {
	le := binary.LittleEndian
	le.PutUint64(dst[UcontextFlagsOffset:], u.Flags)
	le.PutUint64(dst[UcontextLinkOffset:], uint64(u.Link))
	u.Stack.MarshalBytes(dst[UcontextStackOffset:])
	u.MContext.MarshalBytes(dst[UcontextMcontextOffset:])
	le.PutUint64(dst[UcontextSigmaskOffset:], uint64(u.Sigmask))
}

// UnmarshalBytes decodes u from src[:SizeofUcontext].
func (u *UContext) UnmarshalBytes(src []byte) {
	le := binary.LittleEndian
	u.Flags = le.Uint64(src[UcontextFlagsOffset:])
	u.Link = Addr(le.Uint64(src[UcontextLinkOffset:]))
	u.Stack.UnmarshalBytes(src[UcontextStackOffset:])
	u.MContext.UnmarshalBytes(src[UcontextMcontextOffset:])
	u.Sigmask = SigSet(le.Uint64(src[UcontextSigmaskOffset:]))
}
