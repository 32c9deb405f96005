package kernel

// Waiting for signals. A sleeper samples SignalHandlers.changed under the
// lock, re-checks its condition, and blocks on the channel; every queued
// signal closes it. Anything that queues a signal from another goroutine
// (the supervisor, later) therefore wakes these calls with no extra hook.

import (
	"encoding/binary"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

func init() {
	register(map[uint64]Syscall{
		abi.SYS_RT_SIGSUSPEND:   {Name: "rt_sigsuspend", Fn: withSignals(RtSigsuspend), Support: Full},
		abi.SYS_PAUSE:           {Name: "pause", Fn: withSignals(Pause), Support: Full},
		abi.SYS_RT_SIGTIMEDWAIT: {Name: "rt_sigtimedwait", Fn: withSignals(RtSigtimedwait), Support: Full},
	})
}

// sleepFor blocks until cond (called with Signals.mu held) holds or
// timeout fires (nil: never). It reports whether cond held.
func (t *Task) sleepFor(cond func() bool, timeout <-chan time.Time) bool {
	s := t.Proc.Signals
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return true
		}
		ch := s.waitChanLocked()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			s.mu.Lock()
			ok := cond()
			s.mu.Unlock()
			return ok
		}
	}
}

// RtSigsuspend implements Linux syscall rt_sigsuspend(2): it waits under a
// temporary mask until a signal is deliverable. The handler runs under
// that mask and the old one comes back at sigreturn.
func RtSigsuspend(t *Task, a *Args) (uint64, error) {
	if a[1] != abi.SignalSetSize {
		return 0, abi.EINVAL
	}
	mask, err := t.copyInSigset(a.Addr(0))
	if err != nil {
		return 0, err
	}
	t.SetTemporarySigMask(mask)
	t.sleepFor(t.hasDeliverableLocked, nil)
	return 0, abi.ERESTARTNOHAND
}

// Pause implements Linux syscall pause(2).
func Pause(t *Task, a *Args) (uint64, error) {
	t.sleepFor(t.hasDeliverableLocked, nil)
	return 0, abi.ERESTARTNOHAND
}

// RtSigtimedwait implements Linux syscall rt_sigtimedwait(2): it takes a
// pending signal of the set, waiting for one up to the timeout. A signal
// outside the set that becomes deliverable ends the wait with EINTR.
func RtSigtimedwait(t *Task, a *Args) (uint64, error) {
	infoAddr, tsAddr := a.Addr(1), a.Addr(2)
	if a[3] != abi.SignalSetSize {
		return 0, abi.EINVAL
	}
	set, err := t.copyInSigset(a.Addr(0))
	if err != nil {
		return 0, err
	}
	set &^= abi.UnblockableSignals
	var (
		timeout  time.Duration
		hasLimit bool
	)
	if tsAddr != 0 {
		if timeout, err = t.copyInTimeout(tsAddr); err != nil {
			return 0, err
		}
		hasLimit = true
	}

	s := t.Proc.Signals
	s.mu.Lock()
	info, ok := t.dequeueLocked(^set)
	if !ok && !(hasLimit && timeout == 0) {
		// Unblock the waited-for signals while sleeping so that they
		// wake us; realBlocked keeps them from being discarded as
		// ignored meanwhile.
		t.SigState.realBlocked = abi.SigSet(t.SigMask)
		t.SigMask &^= uint64(set)
		s.mu.Unlock()

		var timer <-chan time.Time
		if hasLimit {
			tm := time.NewTimer(timeout)
			defer tm.Stop()
			timer = tm.C
		}
		t.sleepFor(t.hasDeliverableLocked, timer)

		s.mu.Lock()
		t.SigMask = uint64(t.SigState.realBlocked)
		t.SigState.realBlocked = 0
		info, ok = t.dequeueLocked(^set)
		if !ok && !t.hasDeliverableLocked() {
			s.mu.Unlock()
			return 0, abi.EAGAIN
		}
	}
	s.mu.Unlock()
	if !ok {
		if !hasLimit || timeout > 0 {
			return 0, abi.EINTR
		}
		return 0, abi.EAGAIN
	}
	if infoAddr != 0 {
		var b [abi.SizeofSiginfo]byte
		info.MarshalBytes(b[:])
		if _, err := t.CopyOut(infoAddr, b[:]); err != nil {
			return 0, err
		}
	}
	return uint64(info.Signo), nil
}

// copyInTimeout reads a relative struct timespec; a negative or
// unnormalised one is EINVAL.
func (t *Task) copyInTimeout(addr abi.Addr) (time.Duration, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	sec := int64(binary.LittleEndian.Uint64(b[0:]))
	nsec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= int64(time.Second) {
		return 0, abi.EINVAL
	}
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if sec >= maxSec {
		return time.Duration(1<<63 - 1), nil
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), nil
}
