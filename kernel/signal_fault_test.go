package kernel

import (
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

func TestExceptionsBecomeSignalsWithLinuxSiginfo(t *testing.T) {
	const rip = 0x401234
	mxcsr := func(v uint32) func(*sigTestEnv) {
		return func(e *sigTestEnv) { binary.LittleEndian.PutUint32(e.cpu.fp[abi.FXSAVE_MXCSR:], v) }
	}
	x87 := func(cw, sw uint16) func(*sigTestEnv) {
		return func(e *sigTestEnv) {
			binary.LittleEndian.PutUint16(e.cpu.fp[abi.FXSAVE_FCW:], cw)
			binary.LittleEndian.PutUint16(e.cpu.fp[abi.FXSAVE_FSW:], sw)
		}
	}
	cases := []struct {
		name     string
		exit     hvf.Exit
		setup    func(*sigTestEnv)
		sig      int32
		code     int32
		addr     abi.Addr
		wantErr  uint64 // sigcontext err
		wantCR2  uint64
		noSignal bool
	}{
		{name: "#PF on unmapped address is SEGV_MAPERR",
			exit: hvf.Exit{Vector: hvf.VectorPF, ErrorCode: hvf.PFUser | hvf.PFWrite, FaultAddr: 0x1234},
			sig:  abi.SIGSEGV, code: abi.SEGV_MAPERR, addr: 0x1234,
			wantErr: hvf.PFUser | hvf.PFWrite, wantCR2: 0x1234},
		{name: "#PF writing a read-only mapping is SEGV_ACCERR",
			exit: hvf.Exit{Vector: hvf.VectorPF, ErrorCode: hvf.PFUser | hvf.PFWrite | hvf.PFPresent, FaultAddr: uint64(testROPage) + 8},
			sig:  abi.SIGSEGV, code: abi.SEGV_ACCERR, addr: testROPage + 8,
			wantErr: hvf.PFUser | hvf.PFWrite | hvf.PFPresent, wantCR2: uint64(testROPage) + 8},
		{name: "#PF executing a non-executable mapping is SEGV_ACCERR",
			exit: hvf.Exit{Vector: hvf.VectorPF, ErrorCode: hvf.PFUser | hvf.PFInstr | hvf.PFPresent, FaultAddr: uint64(testROPage)},
			sig:  abi.SIGSEGV, code: abi.SEGV_ACCERR, addr: testROPage,
			wantErr: hvf.PFUser | hvf.PFInstr | hvf.PFPresent, wantCR2: uint64(testROPage)},
		{name: "#PF present read on a readable page is SIGBUS BUS_ADRERR (ptrace's host SIGBUS)",
			exit: hvf.Exit{Vector: hvf.VectorPF, ErrorCode: hvf.PFUser | hvf.PFPresent, FaultAddr: uint64(testROPage) + 24},
			sig:  abi.SIGBUS, code: abi.BUS_ADRERR, addr: testROPage + 24,
			wantErr: hvf.PFUser | hvf.PFPresent, wantCR2: uint64(testROPage) + 24},
		{name: "#PF on a permitted access is SIGBUS BUS_ADRERR (file past EOF)",
			exit: hvf.Exit{Vector: hvf.VectorPF, ErrorCode: hvf.PFUser, FaultAddr: uint64(testROPage) + 16},
			sig:  abi.SIGBUS, code: abi.BUS_ADRERR, addr: testROPage + 16,
			wantErr: hvf.PFUser, wantCR2: uint64(testROPage) + 16},
		{name: "#PF on a kernel address is SEGV_MAPERR with the protection bit",
			exit: hvf.Exit{Vector: hvf.VectorPF, ErrorCode: hvf.PFUser, FaultAddr: 0xffff_8000_0000_0000},
			sig:  abi.SIGSEGV, code: abi.SEGV_MAPERR, addr: 0xffff_8000_0000_0000,
			wantErr: hvf.PFUser | hvf.PFPresent, wantCR2: 0xffff_8000_0000_0000},
		{name: "#GP is SIGSEGV SI_KERNEL at address 0",
			exit: hvf.Exit{Vector: hvf.VectorGP, ErrorCode: 0x10},
			sig:  abi.SIGSEGV, code: abi.SI_KERNEL, addr: 0, wantErr: 0x10},
		{name: "#UD is SIGILL ILL_ILLOPN at rip",
			exit: hvf.Exit{Vector: hvf.VectorUD},
			sig:  abi.SIGILL, code: abi.ILL_ILLOPN, addr: rip},
		{name: "#DE is SIGFPE FPE_INTDIV at rip",
			exit: hvf.Exit{Vector: hvf.VectorDE},
			sig:  abi.SIGFPE, code: abi.FPE_INTDIV, addr: rip},
		{name: "#XM divide-by-zero is FPE_FLTDIV",
			exit:  hvf.Exit{Vector: hvf.VectorXM},
			setup: mxcsr(0x1f80&^(1<<9) | 1<<2), // ZM clear, ZE set
			sig:   abi.SIGFPE, code: abi.FPE_FLTDIV, addr: rip},
		{name: "#XM invalid operation is FPE_FLTINV",
			exit:  hvf.Exit{Vector: hvf.VectorXM},
			setup: mxcsr(0x1f80&^(1<<7) | 1),
			sig:   abi.SIGFPE, code: abi.FPE_FLTINV, addr: rip},
		{name: "#XM with only masked exceptions raises nothing",
			exit:     hvf.Exit{Vector: hvf.VectorXM},
			setup:    mxcsr(0x1f80 | 1<<5),
			noSignal: true},
		{name: "#MF overflow is FPE_FLTOVF",
			exit:  hvf.Exit{Vector: hvf.VectorMF},
			setup: x87(0x037f&^(1<<3), 1<<3),
			sig:   abi.SIGFPE, code: abi.FPE_FLTOVF, addr: rip},
		{name: "#BP is SIGTRAP SI_KERNEL",
			exit: hvf.Exit{Vector: hvf.VectorBP},
			sig:  abi.SIGTRAP, code: abi.SI_KERNEL},
		{name: "#DB single step is TRAP_TRACE",
			exit: hvf.Exit{Vector: hvf.VectorDB, ErrorCode: 1 << 14},
			sig:  abi.SIGTRAP, code: abi.TRAP_TRACE, addr: rip, wantErr: 1 << 14},
		{name: "#DB otherwise is TRAP_BRKPT",
			exit: hvf.Exit{Vector: hvf.VectorDB},
			sig:  abi.SIGTRAP, code: abi.TRAP_BRKPT, addr: rip},
		{name: "#AC is SIGBUS BUS_ADRALN",
			exit: hvf.Exit{Vector: hvf.VectorAC},
			sig:  abi.SIGBUS, code: abi.BUS_ADRALN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			sigs := []int{abi.SIGSEGV, abi.SIGBUS, abi.SIGILL, abi.SIGFPE, abi.SIGTRAP}
			for _, s := range sigs {
				e.sigaction(t, s, handlerAct(abi.SA_SIGINFO, 0))
			}
			if c.setup != nil {
				c.setup(e)
			}
			e.cpu.regs.RIP = rip
			c.exit.Reason = hvf.ExitException
			e.t.HandleException(c.exit)
			e.t.DeliverSignals()
			r := &e.cpu.regs
			if c.noSignal {
				if r.RIP != rip || e.host.exited {
					t.Fatalf("a signal was delivered (rip %#x)", r.RIP)
				}
				return
			}
			if r.RIP != uint64(testHandler) || int32(r.RDI) != c.sig {
				t.Fatalf("handler rip %#x sig %d, want sig %d", r.RIP, r.RDI, c.sig)
			}
			var info abi.Siginfo
			info.UnmarshalBytes(e.read(t, abi.Addr(r.RSI), abi.SizeofSiginfo))
			if info.Signo != c.sig || info.Code != c.code || info.Addr() != c.addr {
				t.Errorf("siginfo %d/%d addr %#x, want %d/%d addr %#x",
					info.Signo, info.Code, info.Addr(), c.sig, c.code, c.addr)
			}
			sc := abi.Addr(r.RDX) + abi.UcontextMcontextOffset
			if got := e.u64(t, sc+abi.SigcontextTrapnoOffset); got != uint64(c.exit.Vector) {
				t.Errorf("trapno %d, want %d", got, c.exit.Vector)
			}
			if got := e.u64(t, sc+abi.SigcontextErrOffset); got != c.wantErr {
				t.Errorf("err %#x, want %#x", got, c.wantErr)
			}
			if got := e.u64(t, sc+abi.SigcontextCR2Offset); got != c.wantCR2 {
				t.Errorf("cr2 %#x, want %#x", got, c.wantCR2)
			}
			if got := e.u64(t, sc+abi.SigcontextRIPOffset); got != rip {
				t.Errorf("saved rip %#x, want the faulting %#x", got, rip)
			}
		})
	}
}

func TestFaultSignalBlockedOrIgnoredKills(t *testing.T) {
	pf := hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorPF, ErrorCode: hvf.PFUser, FaultAddr: 0x10}
	cases := []struct {
		name       string
		setup      func(t *testing.T, e *sigTestEnv)
		wantStatus uint32
		wantReset  bool
	}{
		{"blocked SIGSEGV with a handler kills", func(t *testing.T, e *sigTestEnv) {
			e.sigaction(t, abi.SIGSEGV, handlerAct(0, 0))
			e.t.setSigMask(abi.SigSetOf(abi.SIGSEGV))
		}, abi.SIGSEGV, true},
		{"ignored SIGSEGV kills", func(t *testing.T, e *sigTestEnv) {
			e.sigaction(t, abi.SIGSEGV, abi.Sigaction{Handler: abi.SIG_IGN})
		}, abi.SIGSEGV, true},
		{"default SIGSEGV kills", func(*testing.T, *sigTestEnv) {}, abi.SIGSEGV, true},
		{"a fault inside its own handler kills", func(t *testing.T, e *sigTestEnv) {
			e.sigaction(t, abi.SIGSEGV, handlerAct(0, 0))
			e.t.HandleException(pf)
			e.t.DeliverSignals() // now in the handler, SIGSEGV blocked
		}, abi.SIGSEGV, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			c.setup(t, e)
			e.t.HandleException(pf)
			e.t.DeliverSignals()
			if !e.host.exited || e.host.exitCode != c.wantStatus {
				t.Errorf("exited %v status %#x, want %#x", e.host.exited, e.host.exitCode, c.wantStatus)
			}
			if reset := e.t.Proc.Signals.Action(abi.SIGSEGV).Handler == abi.SIG_DFL; reset != c.wantReset {
				t.Errorf("disposition reset = %v", reset)
			}
		})
	}
}

func TestFaultLookupFallsBackToErrorCode(t *testing.T) {
	e := newSigTestEnv(t)
	e.t.Proc.Mem = struct{ Memory }{e.mem} // hides Lookup
	for _, c := range []struct {
		err  uint64
		code int32
	}{{hvf.PFUser, abi.SEGV_MAPERR}, {hvf.PFUser | hvf.PFPresent, abi.SEGV_ACCERR}} {
		info, ok := e.t.faultInfo(hvf.Exit{Vector: hvf.VectorPF, ErrorCode: c.err, FaultAddr: uint64(testROPage)}, 0)
		if !ok || info.Code != c.code {
			t.Errorf("error code %#x: si_code %d, want %d", c.err, info.Code, c.code)
		}
	}
}
