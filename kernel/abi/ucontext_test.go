package abi

import (
	"encoding/binary"
	"testing"
)

// The offsets below are Linux's, read with offsetof() from the x86-64
// headers (asm/sigcontext.h, asm/ucontext.h, siginfo_t, stack_t).

func TestSigcontextFieldsAtLinuxOffsets(t *testing.T) {
	var sc Sigcontext
	fields := []struct {
		name string
		off  int
		size int
		set  func(v uint64)
	}{
		{"r8", 0, 8, func(v uint64) { sc.R8 = v }},
		{"r9", 8, 8, func(v uint64) { sc.R9 = v }},
		{"r10", 16, 8, func(v uint64) { sc.R10 = v }},
		{"r11", 24, 8, func(v uint64) { sc.R11 = v }},
		{"r12", 32, 8, func(v uint64) { sc.R12 = v }},
		{"r13", 40, 8, func(v uint64) { sc.R13 = v }},
		{"r14", 48, 8, func(v uint64) { sc.R14 = v }},
		{"r15", 56, 8, func(v uint64) { sc.R15 = v }},
		{"rdi", 64, 8, func(v uint64) { sc.RDI = v }},
		{"rsi", 72, 8, func(v uint64) { sc.RSI = v }},
		{"rbp", 80, 8, func(v uint64) { sc.RBP = v }},
		{"rbx", 88, 8, func(v uint64) { sc.RBX = v }},
		{"rdx", 96, 8, func(v uint64) { sc.RDX = v }},
		{"rax", 104, 8, func(v uint64) { sc.RAX = v }},
		{"rcx", 112, 8, func(v uint64) { sc.RCX = v }},
		{"rsp", 120, 8, func(v uint64) { sc.RSP = v }},
		{"rip", 128, 8, func(v uint64) { sc.RIP = v }},
		{"eflags", 136, 8, func(v uint64) { sc.EFLAGS = v }},
		{"cs", 144, 2, func(v uint64) { sc.CS = uint16(v) }},
		{"gs", 146, 2, func(v uint64) { sc.GS = uint16(v) }},
		{"fs", 148, 2, func(v uint64) { sc.FS = uint16(v) }},
		{"ss", 150, 2, func(v uint64) { sc.SS = uint16(v) }},
		{"err", 152, 8, func(v uint64) { sc.Err = v }},
		{"trapno", 160, 8, func(v uint64) { sc.Trapno = v }},
		{"oldmask", 168, 8, func(v uint64) { sc.Oldmask = v }},
		{"cr2", 176, 8, func(v uint64) { sc.CR2 = v }},
		{"fpstate", 184, 8, func(v uint64) { sc.Fpstate = Addr(v) }},
		{"reserved1[7]", 248, 8, func(v uint64) { sc.Reserved1[7] = v }},
	}
	for _, f := range fields {
		sc = Sigcontext{}
		const v = 0x8877665544332211
		f.set(v)
		b := make([]byte, SizeofSigcontext)
		sc.MarshalBytes(b)
		for i, x := range b {
			inField := i >= f.off && i < f.off+f.size
			want := byte(0)
			if inField {
				want = byte(uint64(v) >> (8 * (i - f.off)))
			}
			if x != want {
				t.Errorf("%s: byte %d = %#x, want %#x (field at %d)", f.name, i, x, want, f.off)
				break
			}
		}
		var back Sigcontext
		back.UnmarshalBytes(b)
		if back != sc {
			t.Errorf("%s: round trip lost the value", f.name)
		}
	}
}

func TestUcontextAndFrameLayout(t *testing.T) {
	checks := []struct {
		name      string
		got, want int
	}{
		{"sizeof(struct sigcontext)", SizeofSigcontext, 256},
		{"sizeof(struct ucontext)", SizeofUcontext, 304},
		{"sizeof(struct rt_sigframe)", SizeofRtSigframe, 440},
		{"sizeof(siginfo_t)", SizeofSiginfo, 128},
		{"sizeof(stack_t)", SizeofStackT, 24},
		{"sizeof(struct sigaction)", SizeofSigaction, 32},
		{"offsetof(ucontext, uc_mcontext)", UcontextMcontextOffset, 40},
		{"offsetof(ucontext, uc_sigmask)", UcontextSigmaskOffset, 296},
		{"offsetof(rt_sigframe, info)", RtSigframeInfoOffset, 312},
		{"offsetof(_fpstate, sw_reserved)", FXSAVE_SW_BYTES, 464},
		{"offsetof(_fpstate, mxcsr)", FXSAVE_MXCSR, 24},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}

	uc := UContext{
		Flags: UC_FP_XSTATE, Link: 0x1122,
		Stack:    StackT{SP: 0xaaaa, Flags: SS_AUTODISARM | SS_ONSTACK, Size: 0xbbbb},
		MContext: Sigcontext{R8: 0x88, RIP: 0x1234},
		Sigmask:  SigSetOf(SIGUSR1, SIGRTMAX),
	}
	b := make([]byte, SizeofUcontext)
	uc.MarshalBytes(b)
	le := binary.LittleEndian
	words := []struct {
		name string
		off  int
		want uint64
	}{
		{"uc_flags", 0, UC_FP_XSTATE},
		{"uc_link", 8, 0x1122},
		{"uc_stack.ss_sp", 16, 0xaaaa},
		{"uc_stack.ss_flags (+pad)", 24, SS_AUTODISARM | SS_ONSTACK},
		{"uc_stack.ss_size", 32, 0xbbbb},
		{"uc_mcontext.r8", 40, 0x88},
		{"uc_mcontext.rip", 40 + 128, 0x1234},
		{"uc_sigmask", 296, 1<<9 | 1<<63},
	}
	for _, w := range words {
		if got := le.Uint64(b[w.off:]); got != w.want {
			t.Errorf("%s at %d = %#x, want %#x", w.name, w.off, got, w.want)
		}
	}
	var back UContext
	back.UnmarshalBytes(b)
	if back != uc {
		t.Errorf("round trip: %+v, want %+v", back, uc)
	}
}

func TestSiginfoLayouts(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name  string
		build func(*Siginfo)
		want  map[int]uint64 // offset -> value (8 bytes unless noted in name)
		w32   map[int]uint32
	}{
		{
			name:  "SIGSEGV fault",
			build: func(s *Siginfo) { s.Signo, s.Code = SIGSEGV, SEGV_ACCERR; s.SetAddr(0xdeadbeef000) },
			w32:   map[int]uint32{0: SIGSEGV, 4: 0, 8: SEGV_ACCERR},
			want:  map[int]uint64{16: 0xdeadbeef000},
		},
		{
			name: "SIGCHLD exit",
			build: func(s *Siginfo) {
				s.Signo, s.Code = SIGCHLD, CLD_EXITED
				s.SetPid(4242)
				s.SetUid(1000)
				s.SetStatus(3)
				s.SetUtime(17)
				s.SetStime(19)
			},
			w32:  map[int]uint32{0: SIGCHLD, 8: CLD_EXITED, 16: 4242, 20: 1000, 24: 3},
			want: map[int]uint64{32: 17, 40: 19},
		},
		{
			name: "sigqueue value",
			build: func(s *Siginfo) {
				s.Signo, s.Code = SIGRTMIN, SI_QUEUE
				s.SetPid(7)
				s.SetValue(0x1122334455667788)
			},
			w32:  map[int]uint32{8: 0xffffffff, 16: 7},
			want: map[int]uint64{24: 0x1122334455667788},
		},
		{
			name:  "SIGIO poll",
			build: func(s *Siginfo) { s.Signo = SIGIO; s.SetBand(0x41); s.SetFd(9) },
			w32:   map[int]uint32{24: 9},
			want:  map[int]uint64{16: 0x41},
		},
	}
	for _, c := range cases {
		var s Siginfo
		c.build(&s)
		b := make([]byte, SizeofSiginfo)
		s.MarshalBytes(b)
		for off, v := range c.want {
			if got := le.Uint64(b[off:]); got != v {
				t.Errorf("%s: u64 at %d = %#x, want %#x", c.name, off, got, v)
			}
		}
		for off, v := range c.w32 {
			if got := le.Uint32(b[off:]); got != v {
				t.Errorf("%s: u32 at %d = %#x, want %#x", c.name, off, got, v)
			}
		}
		var back Siginfo
		back.UnmarshalBytes(b)
		if back != s {
			t.Errorf("%s: round trip differs", c.name)
		}
	}
}

func TestSigactionAndStackLayout(t *testing.T) {
	le := binary.LittleEndian
	sa := Sigaction{Handler: 0x401000, Flags: SA_SIGINFO | SA_RESTORER, Restorer: 0x402000, Mask: SigSetOf(SIGINT)}
	b := make([]byte, SizeofSigaction)
	sa.MarshalBytes(b)
	for off, want := range map[int]uint64{0: 0x401000, 8: SA_SIGINFO | SA_RESTORER, 16: 0x402000, 24: 2} {
		if got := le.Uint64(b[off:]); got != want {
			t.Errorf("sigaction at %d = %#x, want %#x", off, got, want)
		}
	}
	ss := StackT{SP: 0x7000, Flags: SS_DISABLE, Size: 8192}
	sb := make([]byte, SizeofStackT)
	ss.MarshalBytes(sb)
	if le.Uint64(sb[0:]) != 0x7000 || le.Uint32(sb[8:]) != SS_DISABLE || le.Uint64(sb[16:]) != 8192 {
		t.Errorf("stack_t bytes %x", sb)
	}
}

func TestSigSetBits(t *testing.T) {
	cases := []struct {
		sig  int
		want SigSet
	}{
		{1, 1}, {SIGKILL, 1 << 8}, {SIGRTMIN, 1 << 31}, {SIGRTMAX, 1 << 63}, {0, 0}, {65, 0}, {-1, 0},
	}
	for _, c := range cases {
		if got := SigBit(c.sig); got != c.want {
			t.Errorf("SigBit(%d) = %#x, want %#x", c.sig, got, c.want)
		}
		if c.want != 0 && !c.want.Has(c.sig) {
			t.Errorf("Has(%d) false", c.sig)
		}
	}
	if (^SigSet(0)).Has(0) || (^SigSet(0)).Has(65) {
		t.Error("Has accepts invalid signal numbers")
	}
	var sp StackT
	sp.SP, sp.Size = 0x1000, 0x1000
	for _, c := range []struct {
		sp   Addr
		want bool
	}{{0x1000, false}, {0x1001, true}, {0x2000, true}, {0x2001, false}} {
		if got := sp.Contains(c.sp); got != c.want {
			t.Errorf("Contains(%#x) = %v, want %v", c.sp, got, c.want)
		}
	}
}
