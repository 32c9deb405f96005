package kernel

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// inBackground runs one syscall on its own goroutine (the vCPU thread)
// and returns a channel that yields rax.
func (e *sigTestEnv) inBackground(nr uint64, args ...uint64) <-chan uint64 {
	done := make(chan uint64, 1)
	go func() { done <- e.syscall(nr, args...) }()
	return done
}

func waitResult(t *testing.T, ch <-chan uint64) uint64 {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("syscall did not return")
		return 0
	}
}

// assertBlocked checks that the syscall is still sleeping.
func assertBlocked(t *testing.T, ch <-chan uint64) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("returned %#x, want it to block", v)
	case <-time.After(30 * time.Millisecond):
	}
}

func TestRtSigsuspendRunsHandlerUnderTemporaryMaskAndRestoresOld(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR1, handlerAct(0, abi.SigSetOf(abi.SIGTERM)))
	old := abi.SigSetOf(abi.SIGUSR1, abi.SIGHUP)
	e.t.setSigMask(old)
	e.syscall(abi.SYS_KILL, 100, abi.SIGUSR1) // pending, blocked

	e.putSigset(t, argAct, abi.SigSetOf(abi.SIGINT))
	e.syscall(abi.SYS_RT_SIGSUSPEND, uint64(argAct), 8)

	if e.cpu.regs.RIP != uint64(testHandler) {
		t.Fatal("handler not entered")
	}
	if want := abi.SigSetOf(abi.SIGINT, abi.SIGUSR1, abi.SIGTERM); abi.SigSet(e.t.SigMask) != want {
		t.Errorf("mask in handler %#x, want temporary|sa_mask|sig %#x", e.t.SigMask, want)
	}
	rax, _ := e.frameMcontext(t)
	if rax != negErrno(abi.EINTR) {
		t.Errorf("sigsuspend result in frame %#x, want -EINTR", rax)
	}
	sm := abi.SigSet(e.u64(t, abi.Addr(e.cpu.regs.RDX)+abi.UcontextSigmaskOffset))
	if sm != old {
		t.Errorf("uc_sigmask %#x, want the pre-sigsuspend %#x", sm, old)
	}
	e.sigreturn(t)
	if abi.SigSet(e.t.SigMask) != old {
		t.Errorf("mask after sigreturn %#x, want %#x", e.t.SigMask, old)
	}
}

func TestRtSigsuspendWakesWhenSignalArrivesFromOutside(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR2, handlerAct(0, 0))
	e.putSigset(t, argAct, 0)
	done := e.inBackground(abi.SYS_RT_SIGSUSPEND, uint64(argAct), 8)
	assertBlocked(t, done)
	e.t.Proc.Kill(abi.SIGUSR2)
	waitResult(t, done)
	if e.cpu.regs.RIP != uint64(testHandler) || e.cpu.regs.RDI != abi.SIGUSR2 {
		t.Errorf("handler not entered: rip %#x", e.cpu.regs.RIP)
	}
}

func TestRtSigsuspendErrors(t *testing.T) {
	e := newSigTestEnv(t)
	if got := sigErrno(e.syscall(abi.SYS_RT_SIGSUSPEND, uint64(argAct), 4)); got != abi.EINVAL {
		t.Errorf("size 4: %v", got)
	}
	if got := sigErrno(e.syscall(abi.SYS_RT_SIGSUSPEND, sigBadAddr, 8)); got != abi.EFAULT {
		t.Errorf("bad mask: %v", got)
	}
}

func TestSignalIgnoredAtDeliveryRestartsSigsuspend(t *testing.T) {
	// A blocked SIGCHLD with SIG_DFL stays pending; sigsuspend's empty
	// mask makes it deliverable, its default action ignores it, and the
	// call restarts with the original mask back in place until it re-runs.
	e := newSigTestEnv(t)
	e.t.setSigMask(abi.SigSetOf(abi.SIGHUP, abi.SIGCHLD))
	e.syscall(abi.SYS_KILL, 100, abi.SIGCHLD)
	if !e.t.PendingSignals().Has(abi.SIGCHLD) {
		t.Fatal("blocked SIGCHLD not pending")
	}
	e.putSigset(t, argAct, 0)
	e.syscall(abi.SYS_RT_SIGSUSPEND, uint64(argAct), 8)
	r := &e.cpu.regs
	if r.RAX != abi.SYS_RT_SIGSUSPEND || r.RIP != testSyscallRIP-2 {
		t.Errorf("rax %#x rip %#x, want a restart of rt_sigsuspend", r.RAX, r.RIP)
	}
	if abi.SigSet(e.t.SigMask) != abi.SigSetOf(abi.SIGHUP, abi.SIGCHLD) {
		t.Errorf("mask %#x, want the original back", e.t.SigMask)
	}
	if e.t.PendingSignals() != 0 {
		t.Error("SIGCHLD still pending")
	}
}

func TestPauseReturnsEINTRAfterHandler(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGALRM, handlerAct(abi.SA_RESTART, 0))
	done := e.inBackground(abi.SYS_PAUSE)
	assertBlocked(t, done)
	e.t.SendSignal(abi.SIGALRM, nil)
	waitResult(t, done)
	if rax, _ := e.frameMcontext(t); rax != negErrno(abi.EINTR) {
		t.Errorf("pause result %#x, want -EINTR even with SA_RESTART", rax)
	}
}

func TestRtSigtimedwait(t *testing.T) {
	putTimeout := func(t *testing.T, e *sigTestEnv, sec, nsec int64) abi.Addr {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(sec))
		binary.LittleEndian.PutUint64(b[8:], uint64(nsec))
		e.mem.CopyOut(testScratch+0xc00, b[:])
		return testScratch + 0xc00
	}
	set := abi.SigSetOf(abi.SIGUSR1, abi.SIGRTMIN)

	t.Run("takes a pending blocked signal with its siginfo", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.t.setSigMask(set)
		e.syscall(abi.SYS_TGKILL, 100, 100, abi.SIGUSR1)
		e.putSigset(t, argAct, set)
		rax := e.syscall(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), uint64(argOld), 0, 8)
		if rax != abi.SIGUSR1 {
			t.Fatalf("returned %d, want SIGUSR1", int64(rax))
		}
		var info abi.Siginfo
		info.UnmarshalBytes(e.read(t, argOld, abi.SizeofSiginfo))
		if info.Signo != abi.SIGUSR1 || info.Code != abi.SI_TKILL || info.Pid() != 100 {
			t.Errorf("siginfo %+v", info)
		}
		if e.t.PendingSignals() != 0 {
			t.Error("signal still pending")
		}
	})
	t.Run("zero timeout polls", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.putSigset(t, argAct, set)
		ts := putTimeout(t, e, 0, 0)
		if got := sigErrno(e.syscall(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), 0, uint64(ts), 8)); got != abi.EAGAIN {
			t.Errorf("got %v, want EAGAIN", got)
		}
	})
	t.Run("timeout expires", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.putSigset(t, argAct, set)
		ts := putTimeout(t, e, 0, 20e6)
		start := time.Now()
		got := sigErrno(e.syscall(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), 0, uint64(ts), 8))
		if got != abi.EAGAIN || time.Since(start) < 20*time.Millisecond {
			t.Errorf("got %v after %v, want EAGAIN after 20ms", got, time.Since(start))
		}
	})
	t.Run("invalid timeout", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.putSigset(t, argAct, set)
		for _, ts := range [][2]int64{{0, 1e9}, {-1, 0}, {0, -1}} {
			a := putTimeout(t, e, ts[0], ts[1])
			if got := sigErrno(e.syscall(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), 0, uint64(a), 8)); got != abi.EINVAL {
				t.Errorf("timespec %v: %v, want EINVAL", ts, got)
			}
		}
	})
	t.Run("a waited-for signal from outside wakes it", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.t.setSigMask(set)
		e.putSigset(t, argAct, set)
		done := e.inBackground(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), 0, 0, 8)
		assertBlocked(t, done)
		e.t.SendSignal(abi.SIGRTMIN, &abi.Siginfo{Code: abi.SI_QUEUE})
		if rax := waitResult(t, done); rax != abi.SIGRTMIN {
			t.Errorf("returned %d, want SIGRTMIN", int64(rax))
		}
		if abi.SigSet(e.t.SigMask) != set {
			t.Errorf("mask %#x not restored", e.t.SigMask)
		}
	})
	t.Run("an ignored signal it waits for is kept while blocked", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.putSigset(t, argAct, abi.SigSetOf(abi.SIGCHLD))
		e.syscall(abi.SYS_RT_SIGPROCMASK, abi.SIG_BLOCK, uint64(argAct), 0, 8)
		e.putSigset(t, argAct, abi.SigSetOf(abi.SIGCHLD))
		done := e.inBackground(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), 0, 0, 8)
		assertBlocked(t, done)
		e.t.Proc.Kill(abi.SIGCHLD)
		if rax := waitResult(t, done); rax != abi.SIGCHLD {
			t.Errorf("returned %d, want SIGCHLD", int64(rax))
		}
	})
	t.Run("another deliverable signal interrupts it", func(t *testing.T) {
		e := newSigTestEnv(t)
		e.sigaction(t, abi.SIGUSR2, handlerAct(0, 0))
		e.t.setSigMask(set)
		e.putSigset(t, argAct, set)
		done := e.inBackground(abi.SYS_RT_SIGTIMEDWAIT, uint64(argAct), 0, 0, 8)
		assertBlocked(t, done)
		e.t.SendSignal(abi.SIGUSR2, nil)
		waitResult(t, done)
		if rax, _ := e.frameMcontext(t); rax != negErrno(abi.EINTR) {
			t.Errorf("result %#x, want -EINTR", rax)
		}
	})
}
