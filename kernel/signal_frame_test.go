package kernel

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// nativeRSP has the same residue modulo 64 as the interrupted rsp of a
// native run on this machine (a C program raising SIGUSR1 with an
// SA_SIGINFO handler, 2432-byte xstate), where Linux placed the frame
// 3032 bytes below rsp, the fpstate 456 bytes above the frame, and left
// 140 bytes between the end of the FP area and rsp.
const nativeRSP = 0x7000_fd90

func TestSignalFrameMatchesLinuxLayout(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR1, handlerAct(abi.SA_SIGINFO, abi.SigSetOf(abi.SIGUSR2)))
	blockHUP := abi.SigSetOf(abi.SIGHUP)
	e.t.setSigMask(blockHUP)
	e.cpu.regs.RSP = nativeRSP
	before := e.cpu.regs
	fpBefore := append([]byte(nil), e.cpu.fp...)

	e.t.SendSignal(abi.SIGUSR1, nil)
	e.t.DeliverSignals()

	r := &e.cpu.regs
	frame := abi.Addr(r.RSP)
	if got := nativeRSP - uint64(frame); got != 3032 {
		t.Errorf("frame is %d bytes below rsp, Linux puts it 3032 below", got)
	}
	if (frame+8)%16 != 0 {
		t.Errorf("frame %#x: rsp+8 not 16-byte aligned at handler entry", frame)
	}
	uc := frame + abi.RtSigframeUcOffset
	info := frame + abi.RtSigframeInfoOffset
	sc := uc + abi.UcontextMcontextOffset
	fp := abi.Addr(e.u64(t, sc+abi.SigcontextFpstateOffset))
	if fp-frame != 456 || fp%64 != 0 {
		t.Errorf("fpstate at frame+%d (mod 64 = %d), Linux: frame+456, 64-aligned", fp-frame, fp%64)
	}
	if gap := nativeRSP - uint64(fp) - (testFPSize + 4); gap != 140 {
		t.Errorf("gap between FP area and rsp = %d, Linux: 140", gap)
	}

	// Registers at handler entry.
	entry := []struct {
		name      string
		got, want uint64
	}{
		{"rdi", r.RDI, abi.SIGUSR1},
		{"rsi", r.RSI, uint64(info)},
		{"rdx", r.RDX, uint64(uc)},
		{"rax", r.RAX, 0},
		{"rip", r.RIP, uint64(testHandler)},
		{"rflags", r.RFLAGS, before.RFLAGS &^ abi.X86_EFLAGS_DF},
		{"r12 untouched", r.R12, before.R12},
	}
	for _, c := range entry {
		if c.got != c.want {
			t.Errorf("%s at handler entry = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	wantMask := blockHUP | abi.SigSetOf(abi.SIGUSR1, abi.SIGUSR2)
	if abi.SigSet(e.t.SigMask) != wantMask {
		t.Errorf("mask in handler = %#x, want %#x", e.t.SigMask, wantMask)
	}

	// The frame, field by field at Linux's offsets.
	words := []struct {
		name string
		at   abi.Addr
		want uint64
	}{
		{"pretcode", frame, uint64(testRestorer)},
		{"uc_flags", uc + abi.UcontextFlagsOffset, abi.UC_FP_XSTATE | abi.UC_SIGCONTEXT_SS | abi.UC_STRICT_RESTORE_SS},
		{"uc_link", uc + abi.UcontextLinkOffset, 0},
		{"uc_stack.ss_sp", uc + abi.UcontextStackOffset, 0},
		{"uc_stack.ss_flags", uc + abi.UcontextStackOffset + 8, 0},
		{"uc_stack.ss_size", uc + abi.UcontextStackOffset + 16, 0},
		{"r8", sc + 0, before.R8}, {"r9", sc + 8, before.R9},
		{"r10", sc + 16, before.R10}, {"r11", sc + 24, before.R11},
		{"r12", sc + 32, before.R12}, {"r13", sc + 40, before.R13},
		{"r14", sc + 48, before.R14}, {"r15", sc + 56, before.R15},
		{"rdi", sc + 64, before.RDI}, {"rsi", sc + 72, before.RSI},
		{"rbp", sc + 80, before.RBP}, {"rbx", sc + 88, before.RBX},
		{"rdx", sc + 96, before.RDX}, {"rax", sc + 104, before.RAX},
		{"rcx", sc + 112, before.RCX}, {"rsp", sc + 120, before.RSP},
		{"rip", sc + 128, before.RIP}, {"eflags", sc + 136, before.RFLAGS},
		{"cs|gs|fs|ss", sc + 144, abi.USER_CS | abi.USER_DS<<48},
		{"err", sc + 152, 0}, {"trapno", sc + 160, 0},
		{"oldmask", sc + 168, uint64(blockHUP)}, {"cr2", sc + 176, 0},
		{"fpstate", sc + 184, uint64(fp)},
		{"reserved1[0]", sc + 192, 0},
		{"uc_sigmask", uc + abi.UcontextSigmaskOffset, uint64(blockHUP)},
	}
	for _, w := range words {
		if got := e.u64(t, w.at); got != w.want {
			t.Errorf("%s at frame+%d = %#x, want %#x", w.name, w.at-frame, got, w.want)
		}
	}

	si := e.read(t, info, abi.SizeofSiginfo)
	le := binary.LittleEndian
	if signo, code := int32(le.Uint32(si[0:])), int32(le.Uint32(si[8:])); signo != abi.SIGUSR1 || code != abi.SI_USER {
		t.Errorf("siginfo signo/code = %d/%d, want %d/SI_USER", signo, code, abi.SIGUSR1)
	}
	if pid, uid := int32(le.Uint32(si[16:])), le.Uint32(si[20:]); pid != 100 || uid != uint32(os.Getuid()) {
		t.Errorf("siginfo si_pid/si_uid = %d/%d, want 100/%d", pid, uid, os.Getuid())
	}

	// The FP area: the image with fx_sw_bytes and MAGIC2.
	img := e.read(t, fp, testFPSize+4)
	if !bytes.Equal(img[:abi.FXSAVE_SW_BYTES], fpBefore[:abi.FXSAVE_SW_BYTES]) {
		t.Error("legacy FXSAVE area in the frame differs from the interrupted state")
	}
	if !bytes.Equal(img[abi.XSAVE_MIN_SIZE:testFPSize], fpBefore[abi.XSAVE_MIN_SIZE:]) {
		t.Error("extended state in the frame differs from the interrupted state")
	}
	sw := img[abi.FXSAVE_SW_BYTES:]
	fpChecks := []struct {
		name      string
		got, want uint64
	}{
		{"magic1", uint64(le.Uint32(sw[0:])), abi.FP_XSTATE_MAGIC1},
		{"extended_size", uint64(le.Uint32(sw[4:])), testFPSize + 4},
		{"xfeatures", le.Uint64(sw[8:]), hostXFeatures() | 0x7},
		{"xstate_size", uint64(le.Uint32(sw[16:])), testFPSize},
		{"xstate_bv", le.Uint64(img[abi.XSAVE_HDR_OFFSET:]), 0x7},
		{"magic2", uint64(le.Uint32(img[testFPSize:])), abi.FP_XSTATE_MAGIC2},
	}
	for _, c := range fpChecks {
		if c.got != c.want {
			t.Errorf("fpstate %s = %#x, want %#x", c.name, c.got, c.want)
		}
	}

	// The handler starts with a reset FPU.
	if fcw, mxcsr := le.Uint16(e.cpu.fp[0:]), le.Uint32(e.cpu.fp[24:]); fcw != abi.FCW_DEFAULT || mxcsr != abi.MXCSR_DEFAULT {
		t.Errorf("handler FPU: fcw %#x mxcsr %#x, want reset values", fcw, mxcsr)
	}
	if bv := xstateBV(e.cpu.fp); bv != abi.XFEATURE_MASK_FPSSE {
		t.Errorf("handler XSTATE_BV = %#x, want only x87|SSE", bv)
	}
}

func TestSiginfoWrittenOnlyWithSA_SIGINFO(t *testing.T) {
	for _, flags := range []uint64{0, abi.SA_SIGINFO} {
		e := newSigTestEnv(t)
		e.sigaction(t, abi.SIGUSR2, handlerAct(flags, 0))
		e.t.SendSignal(abi.SIGUSR2, nil)
		e.t.DeliverSignals()
		info := e.read(t, abi.Addr(e.cpu.regs.RSI), abi.SizeofSiginfo)
		written := binary.LittleEndian.Uint32(info) == abi.SIGUSR2
		if written != (flags != 0) {
			t.Errorf("flags %#x: siginfo written = %v", flags, written)
		}
		if e.cpu.regs.RDI != abi.SIGUSR2 || e.cpu.regs.RIP != uint64(testHandler) {
			t.Errorf("flags %#x: handler not entered", flags)
		}
	}
}

func TestDeliveryAndSigreturnRestoreEveryRegisterAndMask(t *testing.T) {
	e := newSigTestEnv(t)
	e.sigaction(t, abi.SIGUSR1, handlerAct(abi.SA_SIGINFO, abi.SigSetOf(abi.SIGTERM)))
	e.t.setSigMask(abi.SigSetOf(abi.SIGHUP, abi.SIGINT))
	want := e.cpu.regs
	wantMask := e.t.SigMask
	wantFP := append([]byte(nil), e.cpu.fp...)

	e.t.SendSignal(abi.SIGUSR1, nil)
	e.t.DeliverSignals()
	if e.cpu.regs.RIP != uint64(testHandler) {
		t.Fatalf("handler not entered, rip %#x", e.cpu.regs.RIP)
	}
	// The handler clobbers everything it may.
	r := &e.cpu.regs
	sp := r.RSP
	*r = hvfRegsFill(0xdead)
	r.RSP = sp
	r.RFLAGS = 0x202 | abi.X86_EFLAGS_ZF | abi.X86_EFLAGS_OF
	for i := range e.cpu.fp {
		e.cpu.fp[i] = 0
	}
	binary.LittleEndian.PutUint32(e.cpu.fp[abi.FXSAVE_MXCSR:], abi.MXCSR_DEFAULT)
	e.t.setSigMask(abi.SigSetOf(abi.SIGQUIT))

	e.sigreturn(t)

	if *r != want {
		t.Errorf("registers after sigreturn:\n got %+v\nwant %+v", *r, want)
	}
	if e.t.SigMask != wantMask {
		t.Errorf("mask after sigreturn = %#x, want %#x", e.t.SigMask, wantMask)
	}
	if !bytes.Equal(e.cpu.fp, wantFP) {
		t.Error("FP state after sigreturn differs from the interrupted state")
	}
	if e.t.OrigRAX != noSyscall {
		t.Errorf("OrigRAX after sigreturn = %#x, want none", e.t.OrigRAX)
	}
}

// hvfRegsFill returns registers all set from seed.
func hvfRegsFill(seed uint64) (r hvf.Regs) {
	p := []*uint64{&r.R15, &r.R14, &r.R13, &r.R12, &r.RBP, &r.RBX, &r.R11, &r.R10, &r.R9,
		&r.R8, &r.RAX, &r.RCX, &r.RDX, &r.RSI, &r.RDI, &r.RIP, &r.RFLAGS, &r.RSP}
	for i, v := range p {
		*v = seed + uint64(i)
	}
	return r
}

func TestSigreturnTakesOnlyUserFlagsAndValidatesSegments(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(sc []byte, uc []byte)
		wantSEGV bool
		check    func(t *testing.T, e *sigTestEnv)
	}{
		{
			name: "IF and IOPL stay, arithmetic flags and AC come from the frame",
			edit: func(sc, _ []byte) {
				binary.LittleEndian.PutUint64(sc[abi.SigcontextEFLAGSOffset:], abi.X86_EFLAGS_AC|abi.X86_EFLAGS_CF|0x3000)
			},
			check: func(t *testing.T, e *sigTestEnv) {
				if got, want := e.cpu.regs.RFLAGS, uint64(0x202|abi.X86_EFLAGS_AC|abi.X86_EFLAGS_CF); got != want {
					t.Errorf("rflags = %#x, want %#x", got, want)
				}
			},
		},
		{
			name: "cs without RPL 3 is forced to ring 3",
			edit: func(sc, _ []byte) { binary.LittleEndian.PutUint16(sc[abi.SigcontextCSOffset:], 0x30) },
		},
		{
			name:     "32-bit code segment is refused",
			edit:     func(sc, _ []byte) { binary.LittleEndian.PutUint16(sc[abi.SigcontextCSOffset:], abi.USER32_CS) },
			wantSEGV: true,
		},
		{
			name:     "bogus ss with UC_STRICT_RESTORE_SS is refused",
			edit:     func(sc, _ []byte) { binary.LittleEndian.PutUint16(sc[abi.SigcontextCSOffset+6:], 0x10) },
			wantSEGV: true,
		},
		{
			name: "bogus ss without UC_STRICT_RESTORE_SS is fixed up",
			edit: func(sc, uc []byte) {
				binary.LittleEndian.PutUint16(sc[abi.SigcontextCSOffset+6:], 0x10)
				binary.LittleEndian.PutUint64(uc[abi.UcontextFlagsOffset:], abi.UC_FP_XSTATE|abi.UC_SIGCONTEXT_SS)
			},
		},
		{
			name: "misaligned fpstate is refused",
			edit: func(sc, _ []byte) {
				fp := binary.LittleEndian.Uint64(sc[abi.SigcontextFpstateOffset:])
				binary.LittleEndian.PutUint64(sc[abi.SigcontextFpstateOffset:], fp+8)
			},
			wantSEGV: true,
		},
		{
			name: "null fpstate resets the FPU",
			edit: func(sc, _ []byte) { binary.LittleEndian.PutUint64(sc[abi.SigcontextFpstateOffset:], 0) },
			check: func(t *testing.T, e *sigTestEnv) {
				if mx := binary.LittleEndian.Uint32(e.cpu.fp[abi.FXSAVE_MXCSR:]); mx != abi.MXCSR_DEFAULT {
					t.Errorf("mxcsr = %#x, want reset value", mx)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
			e.t.SendSignal(abi.SIGUSR1, nil)
			e.t.DeliverSignals()
			uc := abi.Addr(e.cpu.regs.RDX)
			ucb := e.read(t, uc, abi.SizeofUcontext)
			c.edit(ucb[abi.UcontextMcontextOffset:], ucb)
			if _, err := e.mem.CopyOut(uc, ucb); err != nil {
				t.Fatal(err)
			}
			e.sigreturn(t)
			segv := e.host.exited && e.host.exitCode == abi.SIGSEGV
			if segv != c.wantSEGV {
				t.Fatalf("killed by SIGSEGV = %v, want %v", segv, c.wantSEGV)
			}
			if !c.wantSEGV {
				if e.cpu.regs.RIP != testSyscallRIP {
					t.Errorf("rip = %#x, want the interrupted %#x", e.cpu.regs.RIP, testSyscallRIP)
				}
				if c.check != nil {
					c.check(t, e)
				}
			}
		})
	}
}

func TestFrameWithoutRestorerOrStackKillsWithSIGSEGV(t *testing.T) {
	cases := []struct {
		name string
		act  abi.Sigaction
		rsp  uint64
	}{
		{"no SA_RESTORER", abi.Sigaction{Handler: testHandler}, uint64(testStackTop)},
		{"stack pointer in unmapped memory", handlerAct(0, 0), 0x9000_0000},
		{"stack pointer into a read-only page", handlerAct(0, 0), uint64(testROPage) + 4000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			e.sigaction(t, abi.SIGUSR1, c.act)
			e.cpu.regs.RSP = c.rsp
			e.t.SendSignal(abi.SIGUSR1, nil)
			e.t.DeliverSignals()
			if !e.host.exited || e.host.exitCode != abi.SIGSEGV {
				t.Errorf("exit = %v status %#x, want death by SIGSEGV (0x0b: elfuse writes no core)", e.host.exited, e.host.exitCode)
			}
		})
	}
}

func TestFXSAVEOnlyImageMakesLegacyFrame(t *testing.T) {
	e := newSigTestEnv(t)
	e.cpu.fp = testFPImage(3)[:abi.FXSAVE_SIZE]
	want := append([]byte(nil), e.cpu.fp...)
	e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
	e.t.SendSignal(abi.SIGUSR1, nil)
	e.t.DeliverSignals()
	uc := abi.Addr(e.cpu.regs.RDX)
	if fl := e.u64(t, uc); fl != abi.UC_SIGCONTEXT_SS|abi.UC_STRICT_RESTORE_SS {
		t.Errorf("uc_flags = %#x, want no UC_FP_XSTATE", fl)
	}
	fp := abi.Addr(e.u64(t, uc+abi.UcontextMcontextOffset+abi.SigcontextFpstateOffset))
	if got := e.read(t, fp, abi.FXSAVE_SIZE); !bytes.Equal(got, want) {
		t.Error("FXSAVE image not copied verbatim")
	}
	e.sigreturn(t)
	if !bytes.Equal(e.cpu.fp, want) {
		t.Error("FXSAVE state not restored")
	}
}

func TestPtraceStyleImageKeepsItsSwBytes(t *testing.T) {
	e := newSigTestEnv(t)
	img := make([]byte, 4096) // bigger buffer than the state, like KVM's
	copy(img, testFPImage(5))
	sw := abi.FPXSwBytes{Magic1: abi.FP_XSTATE_MAGIC1, ExtendedSize: 836, XFeatures: 0x7, XStateSize: 832}
	sw.MarshalBytes(img[abi.FXSAVE_SW_BYTES:])
	e.cpu.fp = img
	e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
	e.cpu.regs.RSP = nativeRSP
	e.t.SendSignal(abi.SIGUSR1, nil)
	e.t.DeliverSignals()
	uc := abi.Addr(e.cpu.regs.RDX)
	fp := abi.Addr(e.u64(t, uc+abi.UcontextMcontextOffset+abi.SigcontextFpstateOffset))
	if m2 := binary.LittleEndian.Uint32(e.read(t, fp+832, 4)); m2 != abi.FP_XSTATE_MAGIC2 {
		t.Errorf("magic2 at fpstate+832 = %#x", m2)
	}
	if x := e.u64(t, fp+abi.FXSAVE_SW_BYTES+8); x != 0x7 {
		t.Errorf("xfeatures = %#x, want the backend's 0x7", x)
	}
	if nativeRSP-128-uint64(fp) < 836 || nativeRSP-128-uint64(fp) >= 836+64 {
		t.Errorf("FP area sized for %d bytes, want 836", nativeRSP-128-uint64(fp))
	}
}

func TestSigreturnFPStateChecks(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(fp []byte)
		wantSEGV bool
		check    func(t *testing.T, restored, orig []byte)
	}{
		{
			name: "bad magic1 restores only the legacy area",
			edit: func(fp []byte) { binary.LittleEndian.PutUint32(fp[abi.FXSAVE_SW_BYTES:], 0) },
			check: func(t *testing.T, restored, orig []byte) {
				if !bytes.Equal(restored[:abi.FXSAVE_SW_BYTES], orig[:abi.FXSAVE_SW_BYTES]) {
					t.Error("legacy state not restored")
				}
				if bv := xstateBV(restored); bv != abi.XFEATURE_MASK_FPSSE {
					t.Errorf("XSTATE_BV %#x, want AVX back in its init state", bv)
				}
			},
		},
		{
			name: "missing magic2 restores only the legacy area",
			edit: func(fp []byte) { binary.LittleEndian.PutUint32(fp[testFPSize:], 0) },
			check: func(t *testing.T, restored, _ []byte) {
				if bv := xstateBV(restored); bv != abi.XFEATURE_MASK_FPSSE {
					t.Errorf("XSTATE_BV %#x, want x87|SSE only", bv)
				}
			},
		},
		{
			name: "xfeatures without AVX leaves AVX in its init state",
			edit: func(fp []byte) { binary.LittleEndian.PutUint64(fp[abi.FXSAVE_SW_BYTES+8:], 0x3) },
			check: func(t *testing.T, restored, orig []byte) {
				if bv := xstateBV(restored); bv != 0x3 {
					t.Errorf("XSTATE_BV %#x, want 0x3", bv)
				}
				if !bytes.Equal(restored[abi.XSAVE_MIN_SIZE:], orig[abi.XSAVE_MIN_SIZE:]) {
					t.Error("extended area bytes changed")
				}
			},
		},
		{
			name:     "reserved MXCSR bits are refused",
			edit:     func(fp []byte) { binary.LittleEndian.PutUint32(fp[abi.FXSAVE_MXCSR:], 0xffff_0000) },
			wantSEGV: true,
		},
		{
			name:     "a compacted header is refused",
			edit:     func(fp []byte) { binary.LittleEndian.PutUint64(fp[abi.XSAVE_HDR_OFFSET+8:], 1<<63|7) },
			wantSEGV: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSigTestEnv(t)
			orig := append([]byte(nil), e.cpu.fp...)
			e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
			e.t.SendSignal(abi.SIGUSR1, nil)
			e.t.DeliverSignals()
			sc := abi.Addr(e.cpu.regs.RDX) + abi.UcontextMcontextOffset
			fpAddr := abi.Addr(e.u64(t, sc+abi.SigcontextFpstateOffset))
			fp := e.read(t, fpAddr, testFPSize+4)
			c.edit(fp)
			e.mem.CopyOut(fpAddr, fp)
			e.sigreturn(t)
			segv := e.host.exited && e.host.exitCode == abi.SIGSEGV
			if segv != c.wantSEGV {
				t.Fatalf("killed by SIGSEGV = %v, want %v", segv, c.wantSEGV)
			}
			if c.check != nil {
				c.check(t, e.cpu.fp, orig)
			}
		})
	}
}
