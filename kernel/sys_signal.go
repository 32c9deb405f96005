package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
)

func init() {
	register(map[uint64]Syscall{
		abi.SYS_RT_SIGACTION:   {Name: "rt_sigaction", Fn: withSignals(RtSigaction), Support: Full},
		abi.SYS_RT_SIGPROCMASK: {Name: "rt_sigprocmask", Fn: withSignals(RtSigprocmask), Support: Full},
		abi.SYS_RT_SIGPENDING:  {Name: "rt_sigpending", Fn: withSignals(RtSigpending), Support: Full},
		abi.SYS_SIGALTSTACK:    {Name: "sigaltstack", Fn: withSignals(Sigaltstack), Support: Full},
		abi.SYS_RT_SIGRETURN:   {Name: "rt_sigreturn", Fn: withSignals(RtSigreturn), Support: Full},
	})
}

// withSignals makes a handler safe on a Process built without signal
// state (see sigHandlers).
func withSignals(fn SyscallFn) SyscallFn {
	return func(t *Task, a *Args) (uint64, error) {
		t.Proc.sigHandlers()
		return fn(t, a)
	}
}

func putU64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

// copyInSigset reads a kernel sigset_t (8 bytes).
func (t *Task) copyInSigset(addr abi.Addr) (abi.SigSet, error) {
	var b [abi.SignalSetSize]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return abi.SigSet(binary.LittleEndian.Uint64(b[:])), nil
}

// copyOutSigset writes the first n bytes of a kernel sigset_t.
func (t *Task) copyOutSigset(addr abi.Addr, s abi.SigSet, n int) error {
	var b [abi.SignalSetSize]byte
	putU64(b[:], uint64(s))
	_, err := t.CopyOut(addr, b[:n])
	return err
}

// RtSigaction implements Linux syscall rt_sigaction(2).
func RtSigaction(t *Task, a *Args) (uint64, error) {
	sig := int(a.Int(0))
	actAddr, oldAddr := a.Addr(1), a.Addr(2)
	if a[3] != abi.SignalSetSize {
		return 0, abi.EINVAL
	}
	var act abi.Sigaction
	if actAddr != 0 {
		var b [abi.SizeofSigaction]byte
		if _, err := t.CopyIn(actAddr, b[:]); err != nil {
			return 0, err
		}
		act.UnmarshalBytes(b[:])
	}
	if !validSignal(sig) || actAddr != 0 && abi.UnblockableSignals.Has(sig) {
		return 0, abi.EINVAL
	}

	s := t.Proc.Signals
	s.mu.Lock()
	old := s.actions[sig-1]
	if actAddr != 0 {
		act.Flags &= abi.UAPI_SA_FLAGS
		act.Mask &^= abi.UnblockableSignals
		s.actions[sig-1] = act
		// POSIX: setting SIG_IGN, or SIG_DFL for a signal whose default
		// is to ignore, discards it from the pending sets even if blocked.
		if s.ignoredLocked(sig) {
			s.shared.flush(abi.SigBit(sig))
			t.SigState.pending.flush(abi.SigBit(sig))
		}
	}
	s.mu.Unlock()

	if oldAddr != 0 {
		var b [abi.SizeofSigaction]byte
		old.MarshalBytes(b[:])
		if _, err := t.CopyOut(oldAddr, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigprocmask implements Linux syscall rt_sigprocmask(2).
func RtSigprocmask(t *Task, a *Args) (uint64, error) {
	how := a.Int(0)
	setAddr, oldAddr := a.Addr(1), a.Addr(2)
	if a[3] != abi.SignalSetSize {
		return 0, abi.EINVAL
	}
	old := abi.SigSet(t.SigMask)
	if setAddr != 0 {
		set, err := t.copyInSigset(setAddr)
		if err != nil {
			return 0, err
		}
		var m abi.SigSet
		switch how {
		case abi.SIG_BLOCK:
			m = old | set
		case abi.SIG_UNBLOCK:
			m = old &^ set
		case abi.SIG_SETMASK:
			m = set
		default:
			return 0, abi.EINVAL
		}
		t.setSigMask(m)
	}
	if oldAddr != 0 {
		if err := t.copyOutSigset(oldAddr, old, abi.SignalSetSize); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigpending implements Linux syscall rt_sigpending(2): the pending
// signals that are blocked.
func RtSigpending(t *Task, a *Args) (uint64, error) {
	size := a[1]
	if size > abi.SignalSetSize {
		return 0, abi.EINVAL
	}
	set := t.PendingSignals() & abi.SigSet(t.SigMask)
	if err := t.copyOutSigset(a.Addr(0), set, int(size)); err != nil {
		return 0, err
	}
	return 0, nil
}

// Sigaltstack implements Linux syscall sigaltstack(2).
func Sigaltstack(t *Task, a *Args) (uint64, error) {
	ssAddr, oldAddr := a.Addr(0), a.Addr(1)
	sp := abi.Addr(t.CPU.Regs().RSP)
	var ss *abi.StackT
	if ssAddr != 0 {
		var b [abi.SizeofStackT]byte
		if _, err := t.CopyIn(ssAddr, b[:]); err != nil {
			return 0, err
		}
		ss = new(abi.StackT)
		ss.UnmarshalBytes(b[:])
	}
	old := abi.StackT{
		SP:    t.AltStack.SP,
		Size:  t.AltStack.Size,
		Flags: t.sasFlags(sp) | t.AltStack.Flags&abi.SS_FLAG_BITS,
	}
	if ss != nil {
		if err := t.sigaltstack(ss, sp); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		var b [abi.SizeofStackT]byte
		old.MarshalBytes(b[:])
		if _, err := t.CopyOut(oldAddr, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sigaltstack installs ss as the alternate stack (Linux's do_sigaltstack
// with the new stack only); sp is the caller's stack pointer.
func (t *Task) sigaltstack(ss *abi.StackT, sp abi.Addr) error {
	if t.onSigStack(sp) {
		return abi.EPERM
	}
	mode := ss.Flags &^ abi.SS_FLAG_BITS
	if mode != abi.SS_DISABLE && mode != abi.SS_ONSTACK && mode != 0 {
		return abi.EINVAL
	}
	next := abi.StackT{SP: ss.SP, Size: ss.Size, Flags: ss.Flags}
	if mode == abi.SS_DISABLE {
		next.SP, next.Size = 0, 0
	} else if ss.Size < abi.MINSIGSTKSZ {
		return abi.ENOMEM
	}
	s := t.Proc.Signals
	s.mu.Lock()
	t.AltStack = next
	s.mu.Unlock()
	return nil
}

// RtSigreturn implements Linux syscall rt_sigreturn(2): it returns from a
// signal handler to the state saved in the frame. A frame that cannot be
// read or restored raises SIGSEGV.
func RtSigreturn(t *Task, a *Args) (uint64, error) {
	if err := t.restoreRtFrame(); err != nil {
		t.Log.Debug("rt_sigreturn: bad frame, raising SIGSEGV", "error", err)
		t.OrigRAX = noSyscall
		t.forceSignal(&abi.Siginfo{Signo: abi.SIGSEGV, Code: abi.SI_KERNEL})
		return 0, nil
	}
	return 0, ErrNoReturn
}
