package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// frameOf returns the ucontext the current handler got.
func (e *sigTestEnv) frameMcontext(tb testing.TB) (rax, rip uint64) {
	tb.Helper()
	sc := abi.Addr(e.cpu.regs.RDX) + abi.UcontextMcontextOffset
	return e.u64(tb, sc+104), e.u64(tb, sc+abi.SigcontextRIPOffset)
}

func TestDefaultActionsGiveLinuxWaitStatuses(t *testing.T) {
	cases := []struct {
		sig        int
		ignore     bool // install SIG_IGN first
		wantExit   bool
		wantStatus uint32
	}{
		{sig: abi.SIGTERM, wantExit: true, wantStatus: 15},
		{sig: abi.SIGINT, wantExit: true, wantStatus: 2},
		{sig: abi.SIGKILL, wantExit: true, wantStatus: 9},
		{sig: abi.SIGPIPE, wantExit: true, wantStatus: 13},
		{sig: abi.SIGRTMIN + 2, wantExit: true, wantStatus: 34},
		{sig: abi.SIGSEGV, wantExit: true, wantStatus: 11},
		{sig: abi.SIGQUIT, wantExit: true, wantStatus: 3},
		{sig: abi.SIGABRT, wantExit: true, wantStatus: 6},
		{sig: abi.SIGSYS, wantExit: true, wantStatus: 31},
		{sig: abi.SIGCHLD},
		{sig: abi.SIGURG},
		{sig: abi.SIGWINCH},
		{sig: abi.SIGCONT},
		{sig: abi.SIGSTOP}, // job control: logged and ignored for now
		{sig: abi.SIGTSTP},
		{sig: abi.SIGTERM, ignore: true},
	}
	for _, c := range cases {
		e := newSigTestEnv(t)
		if c.ignore {
			e.sigaction(t, c.sig, abi.Sigaction{Handler: abi.SIG_IGN})
		}
		rip := e.cpu.regs.RIP
		rax := e.syscall(abi.SYS_KILL, 100, uint64(c.sig))
		if rax != 0 {
			t.Errorf("kill(self, %d) = %d", c.sig, int64(rax))
		}
		if e.host.exited != c.wantExit || e.host.exitCode != c.wantStatus {
			t.Errorf("sig %d (ignore=%v): exited=%v status %#x, want %v %#x",
				c.sig, c.ignore, e.host.exited, e.host.exitCode, c.wantExit, c.wantStatus)
		}
		if !c.wantExit && e.cpu.regs.RIP != rip {
			t.Errorf("sig %d: guest moved to %#x though nothing should run", c.sig, e.cpu.regs.RIP)
		}
		if e.t.PendingSignals() != 0 {
			t.Errorf("sig %d: still pending %#x after delivery", c.sig, e.t.PendingSignals())
		}
	}
}

func TestRestartDecisions(t *testing.T) {
	const nr = 0x2a // the interrupted syscall's number
	cases := []struct {
		name     string
		ret      abi.Errno
		handler  bool
		flags    uint64
		wantRAX  uint64
		restarts bool
	}{
		{"ERESTARTSYS without SA_RESTART gives EINTR", abi.ERESTARTSYS, true, 0, negErrno(abi.EINTR), false},
		{"ERESTARTSYS with SA_RESTART restarts", abi.ERESTARTSYS, true, abi.SA_RESTART, nr, true},
		{"ERESTARTNOINTR always restarts", abi.ERESTARTNOINTR, true, 0, nr, true},
		{"ERESTARTNOHAND with a handler gives EINTR", abi.ERESTARTNOHAND, true, abi.SA_RESTART, negErrno(abi.EINTR), false},
		{"ERESTART_RESTARTBLOCK with a handler gives EINTR", abi.ERESTART_BLOCK, true, abi.SA_RESTART, negErrno(abi.EINTR), false},
		{"ERESTARTSYS with no handler restarts", abi.ERESTARTSYS, false, 0, nr, true},
		{"ERESTARTNOHAND with no handler restarts", abi.ERESTARTNOHAND, false, 0, nr, true},
		{"ERESTARTNOINTR with no handler restarts", abi.ERESTARTNOINTR, false, 0, nr, true},
		{"ERESTART_RESTARTBLOCK with no handler gives EINTR", abi.ERESTART_BLOCK, false, 0, negErrno(abi.EINTR), false},
		{"EINTR stays", abi.EINTR, true, abi.SA_RESTART, negErrno(abi.EINTR), false},
		{"EAGAIN stays", abi.EAGAIN, false, 0, negErrno(abi.EAGAIN), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			if c.handler {
				e.sigaction(t, abi.SIGUSR1, handlerAct(c.flags, 0))
				e.t.SendSignal(abi.SIGUSR1, nil)
			}
			r := &e.cpu.regs
			r.RAX = negErrno(c.ret)
			e.t.OrigRAX = nr
			e.t.DeliverSignals()
			rax, rip := r.RAX, r.RIP
			if c.handler {
				if r.RIP != uint64(testHandler) {
					t.Fatalf("handler not entered")
				}
				rax, rip = e.frameMcontext(t)
			}
			wantRIP := uint64(testSyscallRIP)
			if c.restarts {
				wantRIP -= 2
			}
			if rax != c.wantRAX || rip != wantRIP {
				t.Errorf("rax %#x rip %#x, want %#x %#x", rax, rip, c.wantRAX, wantRIP)
			}
			if e.t.OrigRAX != noSyscall {
				t.Errorf("OrigRAX not cleared")
			}
		})
	}
}

func TestRestartCodesIgnoredAfterExceptionsAndInterrupts(t *testing.T) {
	e := newSigTestEnv(t)
	r := &e.cpu.regs
	r.RAX = negErrno(abi.ERESTARTSYS) // just a guest value
	e.t.DeliverSignals()              // OrigRAX is noSyscall: not a syscall exit
	if r.RAX != negErrno(abi.ERESTARTSYS) || r.RIP != testSyscallRIP {
		t.Errorf("registers changed: rax %#x rip %#x", r.RAX, r.RIP)
	}
}

func TestNestedSignalsStackFramesAndUnwind(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
	act2 := handlerAct(0, 0)
	act2.Handler = testHandler2
	e.sigaction(t, abi.SIGUSR2, act2)
	orig := e.cpu.regs

	e.t.SendSignal(abi.SIGUSR2, nil)
	e.t.SendSignal(abi.SIGUSR1, nil)
	e.t.DeliverSignals()

	// SIGUSR1 (lower) was delivered first, SIGUSR2's frame sits on top
	// and runs first.
	r := &e.cpu.regs
	if r.RIP != uint64(testHandler2) || r.RDI != abi.SIGUSR2 {
		t.Fatalf("top handler: rip %#x sig %d, want handler2 for SIGUSR2", r.RIP, r.RDI)
	}
	if want := abi.SigSetOf(abi.SIGUSR1, abi.SIGUSR2); abi.SigSet(e.t.SigMask) != want {
		t.Errorf("mask in inner handler %#x, want %#x", e.t.SigMask, want)
	}
	e.sigreturn(t)
	if r.RIP != uint64(testHandler) || r.RDI != abi.SIGUSR1 {
		t.Fatalf("after inner sigreturn: rip %#x sig %d, want handler1 for SIGUSR1", r.RIP, r.RDI)
	}
	if want := abi.SigSetOf(abi.SIGUSR1); abi.SigSet(e.t.SigMask) != want {
		t.Errorf("mask in outer handler %#x, want %#x", e.t.SigMask, want)
	}
	e.sigreturn(t)
	if *r != orig || e.t.SigMask != 0 {
		t.Errorf("after both sigreturns: regs %+v mask %#x, want original", *r, e.t.SigMask)
	}
}

func TestHandlerFlags(t *testing.T) {
	cases := []struct {
		name        string
		flags       uint64
		wantBlocked bool // the signal is blocked inside its handler
		wantReset   bool // the disposition is SIG_DFL afterwards
	}{
		{"plain handler blocks its signal", 0, true, false},
		{"SA_NODEFER leaves it unblocked", abi.SA_NODEFER, false, false},
		{"SA_RESETHAND resets the disposition", abi.SA_RESETHAND, true, true},
		{"SA_RESETHAND|SA_NODEFER", abi.SA_RESETHAND | abi.SA_NODEFER, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			e.sigaction(t, abi.SIGUSR1, handlerAct(c.flags, 0))
			e.syscall(abi.SYS_TGKILL, 100, 100, abi.SIGUSR1)
			if e.cpu.regs.RIP != uint64(testHandler) {
				t.Fatal("handler not entered")
			}
			if got := abi.SigSet(e.t.SigMask).Has(abi.SIGUSR1); got != c.wantBlocked {
				t.Errorf("blocked in handler = %v, want %v", got, c.wantBlocked)
			}
			if got := e.t.Proc.Signals.Action(abi.SIGUSR1).Handler == abi.SIG_DFL; got != c.wantReset {
				t.Errorf("reset to SIG_DFL = %v, want %v", got, c.wantReset)
			}
		})
	}
}

func TestStandardSignalsCoalesceRealtimeSignalsQueue(t *testing.T) {
	cases := []struct {
		sig  int
		want int
	}{
		{abi.SIGUSR1, 1},
		{abi.SIGRTMIN + 1, 3},
	}
	for _, c := range cases {
		e := newSigTestEnv(t)
		e.t.setSigMask(abi.SigBit(c.sig))
		for i := range 3 {
			info := &abi.Siginfo{Code: abi.SI_QUEUE}
			info.SetValue(uint64(i))
			e.t.SendSignal(c.sig, info)
		}
		got := 0
		s := e.t.Proc.Signals
		for {
			s.mu.Lock()
			info, ok := e.t.dequeueLocked(^abi.SigBit(c.sig))
			s.mu.Unlock()
			if !ok {
				break
			}
			if info.Value() != uint64(got) {
				t.Errorf("sig %d: instance %d carries value %d (not FIFO)", c.sig, got, info.Value())
			}
			got++
		}
		if got != c.want {
			t.Errorf("sig %d: %d instances pending, want %d", c.sig, got, c.want)
		}
	}
}

func TestSynchronousSignalsComeFirst(t *testing.T) {
	e := newSigTestEnv(t)
	e.t.setSigMask(^abi.SigSet(0))
	e.t.SendSignal(abi.SIGHUP, nil)
	e.t.SendSignal(abi.SIGSEGV, nil)
	e.t.SendSignal(abi.SIGINT, nil)
	var order []int32
	s := e.t.Proc.Signals
	for {
		s.mu.Lock()
		info, ok := e.t.dequeueLocked(0)
		s.mu.Unlock()
		if !ok {
			break
		}
		order = append(order, info.Signo)
	}
	want := []int32{abi.SIGSEGV, abi.SIGHUP, abi.SIGINT}
	if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("delivery order %v, want %v", order, want)
	}
}

func TestAlternateSignalStack(t *testing.T) {
	setAlt := func(t *testing.T, e *sigTestEnv, sp abi.Addr, flags uint32, size uint64) abi.Errno {
		ss := abi.StackT{SP: sp, Flags: flags, Size: size}
		var b [abi.SizeofStackT]byte
		ss.MarshalBytes(b[:])
		if _, err := e.mem.CopyOut(testScratch+0x100, b[:]); err != nil {
			t.Fatal(err)
		}
		return sigErrno(e.syscall(abi.SYS_SIGALTSTACK, uint64(testScratch+0x100), 0))
	}
	query := func(t *testing.T, e *sigTestEnv) abi.StackT {
		if rax := e.syscall(abi.SYS_SIGALTSTACK, 0, uint64(testScratch+0x200)); rax != 0 {
			t.Fatalf("sigaltstack query = %d", int64(rax))
		}
		var ss abi.StackT
		ss.UnmarshalBytes(e.read(t, testScratch+0x200, abi.SizeofStackT))
		return ss
	}

	t.Run("fresh task reports SS_DISABLE", func(t *testing.T) {
		e := newSigTestEnv(t)
		if ss := query(t, e); ss.Flags != abi.SS_DISABLE || ss.Size != 0 {
			t.Errorf("got %+v", ss)
		}
	})
	t.Run("errors", func(t *testing.T) {
		e := newSigTestEnv(t)
		if got := setAlt(t, e, testAltBase, 0, abi.MINSIGSTKSZ-1); got != abi.ENOMEM {
			t.Errorf("below MINSIGSTKSZ: %v, want ENOMEM", got)
		}
		if got := setAlt(t, e, testAltBase, 4, testAltSize); got != abi.EINVAL {
			t.Errorf("bad flags: %v, want EINVAL", got)
		}
		if got := sigErrno(e.syscall(abi.SYS_SIGALTSTACK, 0x10, 0)); got != abi.EFAULT {
			t.Errorf("bad pointer: %v, want EFAULT", got)
		}
		if got := setAlt(t, e, 0, abi.SS_DISABLE, 0); got != 0 {
			t.Errorf("SS_DISABLE: %v", got)
		}
	})
	t.Run("SA_ONSTACK handler runs on it and sigreturn leaves it", func(t *testing.T) {
		e := newSigTestEnv(t)
		if got := setAlt(t, e, testAltBase, 0, testAltSize); got != 0 {
			t.Fatalf("sigaltstack: %v", got)
		}
		e.sigaction(t, abi.SIGUSR1, handlerAct(abi.SA_ONSTACK, 0))
		orig := e.cpu.regs
		e.t.SendSignal(abi.SIGUSR1, nil)
		e.t.DeliverSignals()
		sp := abi.Addr(e.cpu.regs.RSP)
		if sp < testAltBase || sp >= testAltBase+testAltSize {
			t.Fatalf("handler rsp %#x not on the alternate stack", sp)
		}
		uc := abi.Addr(e.cpu.regs.RDX)
		var saved abi.StackT
		saved.UnmarshalBytes(e.read(t, uc+abi.UcontextStackOffset, abi.SizeofStackT))
		if saved.SP != testAltBase || saved.Size != testAltSize || saved.Flags != 0 {
			t.Errorf("uc_stack = %+v", saved)
		}
		if ss := query(t, e); ss.Flags != abi.SS_ONSTACK {
			t.Errorf("query in handler: flags %#x, want SS_ONSTACK", ss.Flags)
		}
		if got := setAlt(t, e, testAltBase, 0, testAltSize); got != abi.EPERM {
			t.Errorf("change while on it: %v, want EPERM", got)
		}
		e.sigreturn(t)
		if e.cpu.regs != orig {
			t.Errorf("registers not restored")
		}
		if ss := query(t, e); ss.Flags != 0 || ss.SP != testAltBase {
			t.Errorf("after sigreturn: %+v", ss)
		}
	})
	t.Run("SS_AUTODISARM disarms during the handler and sigreturn rearms", func(t *testing.T) {
		e := newSigTestEnv(t)
		if got := setAlt(t, e, testAltBase, abi.SS_AUTODISARM, testAltSize); got != 0 {
			t.Fatalf("sigaltstack: %v", got)
		}
		e.sigaction(t, abi.SIGUSR1, handlerAct(abi.SA_ONSTACK, 0))
		e.t.SendSignal(abi.SIGUSR1, nil)
		e.t.DeliverSignals()
		if ss := query(t, e); ss.Flags != abi.SS_DISABLE {
			t.Errorf("in handler: flags %#x, want SS_DISABLE", ss.Flags)
		}
		e.sigreturn(t)
		if ss := query(t, e); ss.Flags != abi.SS_AUTODISARM || ss.Size != testAltSize {
			t.Errorf("after sigreturn: %+v, want armed with SS_AUTODISARM", ss)
		}
	})
	t.Run("overflowing it kills with SIGSEGV", func(t *testing.T) {
		e := newSigTestEnv(t)
		// A MINSIGSTKSZ stack cannot hold a frame with 2.4 KiB of xstate.
		if got := setAlt(t, e, testAltBase, 0, abi.MINSIGSTKSZ); got != 0 {
			t.Fatalf("sigaltstack: %v", got)
		}
		e.sigaction(t, abi.SIGUSR1, handlerAct(abi.SA_ONSTACK, 0))
		e.t.SendSignal(abi.SIGUSR1, nil)
		e.t.DeliverSignals()
		if !e.host.exited || e.host.exitCode != abi.SIGSEGV {
			t.Errorf("exit %v %#x, want SIGSEGV death", e.host.exited, e.host.exitCode)
		}
	})
	t.Run("without SA_ONSTACK the normal stack is used", func(t *testing.T) {
		e := newSigTestEnv(t)
		setAlt(t, e, testAltBase, 0, testAltSize)
		e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
		e.t.SendSignal(abi.SIGUSR1, nil)
		e.t.DeliverSignals()
		if sp := abi.Addr(e.cpu.regs.RSP); sp < testStackBase || sp >= testStackTop {
			t.Errorf("handler rsp %#x not on the normal stack", sp)
		}
	})
}

func TestExecResetKeepsIgnoredDropsHandlersAndAltstack(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR1, handlerAct(abi.SA_RESTART, abi.SigSetOf(abi.SIGTERM)))
	e.sigaction(t, abi.SIGPIPE, abi.Sigaction{Handler: abi.SIG_IGN, Flags: abi.SA_RESTART})
	e.t.AltStack = abi.StackT{SP: testAltBase, Size: testAltSize}
	e.t.setSigMask(abi.SigSetOf(abi.SIGHUP))
	e.t.ResetSignalsForExec()
	s := e.t.Proc.Signals
	if a := s.Action(abi.SIGUSR1); a != (abi.Sigaction{}) {
		t.Errorf("caught signal after exec: %+v, want SIG_DFL", a)
	}
	if a := s.Action(abi.SIGPIPE); a != (abi.Sigaction{Handler: abi.SIG_IGN}) {
		t.Errorf("ignored signal after exec: %+v, want SIG_IGN", a)
	}
	if e.t.AltStack.Size != 0 {
		t.Error("alternate stack survived exec")
	}
	if abi.SigSet(e.t.SigMask) != abi.SigSetOf(abi.SIGHUP) {
		t.Error("mask did not survive exec")
	}
}

func TestProcessKillFromOutsideKicksThreadsThatWillAct(t *testing.T) {
	cases := []struct {
		name      string
		blocked   bool
		ran       bool // the task has been through DeliverSignals
		wantKicks int32
	}{
		{"running thread not blocking it is kicked", false, true, 1},
		{"thread blocking it is left alone", true, true, 0},
		{"thread that never ran is not known yet", false, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			e.sigaction(t, abi.SIGALRM, handlerAct(0, 0))
			if c.blocked {
				e.t.setSigMask(abi.SigSetOf(abi.SIGALRM))
			}
			if !c.ran {
				e.t.Proc.Signals.tasks = nil
				e.t.SigState.registered = false
			}
			e.t.Proc.Kill(abi.SIGALRM)
			if got := e.cpu.kicks.Load(); got != c.wantKicks {
				t.Errorf("kicks %d, want %d", got, c.wantKicks)
			}
			if !e.t.PendingSignals().Has(abi.SIGALRM) {
				t.Error("SIGALRM not pending")
			}
			e.t.DeliverSignals() // the kicked exit
			if delivered := e.cpu.regs.RIP == uint64(testHandler); delivered == c.blocked {
				t.Errorf("delivered = %v with blocked = %v", delivered, c.blocked)
			}
		})
	}
}

func TestSignalPendingCountsOnlyUnblocked(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
	e.t.setSigMask(abi.SigSetOf(abi.SIGUSR1))
	e.t.SendSignal(abi.SIGUSR1, nil)
	if e.t.SignalPending() {
		t.Error("blocked signal reported as pending for delivery")
	}
	e.t.setSigMask(0)
	if !e.t.SignalPending() {
		t.Error("unblocked pending signal not reported")
	}
}

func TestEntryPointsWorkOnABareProcess(t *testing.T) {
	// Other helpers' fakes build a Process with neither Signals nor Kernel.
	p := &Process{}
	task := &Task{Proc: p, Log: hclog.NewNullLogger(), Tid: 1}
	task.SendSignal(abi.SIGPIPE, nil)
	p.Kill(abi.SIGALRM)
	if got := task.PendingSignals(); got != abi.SigSetOf(abi.SIGPIPE, abi.SIGALRM) {
		t.Errorf("pending %#x, want SIGPIPE|SIGALRM", got)
	}
	task.SetTemporarySigMask(abi.SigSetOf(abi.SIGPIPE))
	task.RestoreTemporarySigMask(false)
	if task.SignalPending() != true {
		t.Error("SignalPending false with unblocked signals pending")
	}
}
