package abi

import "encoding/binary"

// Signal numbers (asm/signal.h, x86-64).
const (
	SIGHUP    = 1
	SIGINT    = 2
	SIGQUIT   = 3
	SIGILL    = 4
	SIGTRAP   = 5
	SIGABRT   = 6
	SIGBUS    = 7
	SIGFPE    = 8
	SIGKILL   = 9
	SIGUSR1   = 10
	SIGSEGV   = 11
	SIGUSR2   = 12
	SIGPIPE   = 13
	SIGALRM   = 14
	SIGTERM   = 15
	SIGSTKFLT = 16
	SIGCHLD   = 17
	SIGCONT   = 18
	SIGSTOP   = 19
	SIGTSTP   = 20
	SIGTTIN   = 21
	SIGTTOU   = 22
	SIGURG    = 23
	SIGXCPU   = 24
	SIGXFSZ   = 25
	SIGVTALRM = 26
	SIGPROF   = 27
	SIGWINCH  = 28
	SIGIO     = 29
	SIGPOLL   = SIGIO
	SIGPWR    = 30
	SIGSYS    = 31

	// SIGRTMIN is the kernel's first real-time signal (glibc reserves
	// 32 and 33 for itself and reports 34).
	SIGRTMIN = 32
	SIGRTMAX = 64
	// NSIG is the number of signals (_NSIG): valid numbers are 1..NSIG.
	NSIG = 64
)

// SignalSetSize is sizeof(sigset_t) as the kernel sees it (the sigsetsize
// argument of the rt_sig* syscalls).
const SignalSetSize = 8

// SigSet is a kernel sigset_t: bit sig-1 stands for signal sig.
type SigSet uint64

// SigSetOf returns the set holding the given signals.
func SigSetOf(sigs ...int) SigSet {
	var s SigSet
	for _, sig := range sigs {
		s |= SigBit(sig)
	}
	return s
}

// SigBit returns the set holding only sig (empty for an invalid number).
func SigBit(sig int) SigSet {
	if sig < 1 || sig > NSIG {
		return 0
	}
	return 1 << uint(sig-1)
}

// Has reports whether sig is in s.
func (s SigSet) Has(sig int) bool { return sig >= 1 && sig <= NSIG && s&SigBit(sig) != 0 }

// UnblockableSignals can never be blocked, caught or ignored.
var UnblockableSignals = SigSetOf(SIGKILL, SIGSTOP)

// Special handler values (sa_handler).
const (
	SIG_DFL Addr = 0
	SIG_IGN Addr = 1
)

// sa_flags bits.
const (
	SA_NOCLDSTOP      = 0x00000001
	SA_NOCLDWAIT      = 0x00000002
	SA_SIGINFO        = 0x00000004
	SA_UNSUPPORTED    = 0x00000400
	SA_EXPOSE_TAGBITS = 0x00000800
	SA_RESTORER       = 0x04000000
	SA_ONSTACK        = 0x08000000
	SA_RESTART        = 0x10000000
	SA_NODEFER        = 0x40000000
	SA_RESETHAND      = 0x80000000

	// UAPI_SA_FLAGS are the flags rt_sigaction keeps; Linux clears every
	// other bit so user space can probe for support (SA_UNSUPPORTED).
	UAPI_SA_FLAGS = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK |
		SA_RESTART | SA_NODEFER | SA_RESETHAND | SA_EXPOSE_TAGBITS | SA_RESTORER
)

// rt_sigprocmask how values.
const (
	SIG_BLOCK   = 0
	SIG_UNBLOCK = 1
	SIG_SETMASK = 2
)

// sigaltstack flags.
const (
	SS_ONSTACK    = 1
	SS_DISABLE    = 2
	SS_AUTODISARM = 1 << 31
	SS_FLAG_BITS  = SS_AUTODISARM
)

// Alternate signal stack sizes (asm/signal.h: the kernel's, not glibc's
// dynamic sysconf values).
const (
	MINSIGSTKSZ = 2048
	SIGSTKSZ    = 8192
)

// Sigaction is the kernel's struct sigaction on x86-64 (the rt_sigaction
// layout, not glibc's).
type Sigaction struct {
	Handler  Addr   // sa_handler / sa_sigaction, or SIG_DFL, SIG_IGN
	Flags    uint64 // sa_flags
	Restorer Addr   // sa_restorer
	Mask     SigSet // sa_mask
}

// SizeofSigaction is sizeof(struct sigaction) for rt_sigaction.
const SizeofSigaction = 32

// MarshalBytes encodes s into dst[:SizeofSigaction].
func (s *Sigaction) MarshalBytes(dst []byte) {
	le := binary.LittleEndian
	le.PutUint64(dst[0:], uint64(s.Handler))
	le.PutUint64(dst[8:], s.Flags)
	le.PutUint64(dst[16:], uint64(s.Restorer))
	le.PutUint64(dst[24:], uint64(s.Mask))
}

// UnmarshalBytes decodes s from src[:SizeofSigaction].
func (s *Sigaction) UnmarshalBytes(src []byte) {
	le := binary.LittleEndian
	s.Handler = Addr(le.Uint64(src[0:]))
	s.Flags = le.Uint64(src[8:])
	s.Restorer = Addr(le.Uint64(src[16:]))
	s.Mask = SigSet(le.Uint64(src[24:]))
}

// StackT is struct stack_t (sigaltstack, uc_stack).
type StackT struct {
	SP Addr // ss_sp
	// Flags is ss_flags (a C int; unsigned here so SS_AUTODISARM fits).
	Flags uint32
	_     uint32
	Size  uint64
}

// SizeofStackT is sizeof(stack_t).
const SizeofStackT = 24

// MarshalBytes encodes s into dst[:SizeofStackT].
func (s *StackT) MarshalBytes(dst []byte) {
	le := binary.LittleEndian
	le.PutUint64(dst[0:], uint64(s.SP))
	le.PutUint32(dst[8:], s.Flags)
	le.PutUint32(dst[12:], 0)
	le.PutUint64(dst[16:], s.Size)
}

// UnmarshalBytes decodes s from src[:SizeofStackT].
func (s *StackT) UnmarshalBytes(src []byte) {
	le := binary.LittleEndian
	s.SP = Addr(le.Uint64(src[0:]))
	s.Flags = le.Uint32(src[8:])
	s.Size = le.Uint64(src[16:])
}

// Contains reports whether sp lies on the stack the way Linux's
// __on_sig_stack counts it: above ss_sp and at most ss_size past it.
func (s *StackT) Contains(sp Addr) bool {
	return sp > s.SP && uint64(sp-s.SP) <= s.Size
}
