package ptrace

import (
	"github.com/elfuse/elfuse/hvf"

	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/cpu"
)

// Offsets in the XSAVE (FXSAVE-compatible) image.
const (
	fxXMM0     = 160
	fxXMM1     = 176
	fxXMM2     = 192
	xsXSTATEBV = 512      // XSAVE header: XSTATE_BV
	xsYMMHi1   = 576 + 16 // upper half of ymm1 in the standard format

	xfeatureSSE = 1 << 1
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)*7
	}
	return b
}

func TestFPStateRoundTripsThroughTheGuest(t *testing.T) {
	const imm = 0x0123_4567_89ab_cdef
	var a asm
	a.raw(0x66, 0x48, 0x0f, 0x7e, 0xc0) // movq %xmm0,%rax
	a.storeRAX(dataAddr)
	a.raw(0x48, 0xb8) // movabs $imm,%rax
	a.b = binary.LittleEndian.AppendUint64(a.b, imm)
	a.raw(0x66, 0x48, 0x0f, 0x6e, 0xc8) // movq %rax,%xmm1
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)

	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) < 512 {
		t.Fatalf("FPState is %d bytes, want at least the 512-byte FXSAVE area", len(st))
	}
	xmm0 := pattern(16, 0x40)
	copy(st[fxXMM0:], xmm0)
	if len(st) > 512 {
		// XSAVE semantics: a component whose XSTATE_BV bit is clear is
		// loaded in its initial state, so mark SSE as present.
		st[xsXSTATEBV] |= xfeatureSSE
	}
	if err := g.cpu.SetFPState(st); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(60)
	if got, want := g.word(dataAddr), binary.LittleEndian.Uint64(xmm0); got != want {
		t.Errorf("guest read xmm0 low = %#x, want %#x set by SetFPState", got, want)
	}
	st, err = g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st[fxXMM0:fxXMM0+16], xmm0) {
		t.Errorf("xmm0 after the run = %x, want %x", st[fxXMM0:fxXMM0+16], xmm0)
	}
	if got := binary.LittleEndian.Uint64(st[fxXMM1:]); got != imm {
		t.Errorf("xmm1 written by the guest = %#x, want %#x", got, uint64(imm))
	}
}

func TestFPStateAcceptsTheLegacyFXSAVEImage(t *testing.T) {
	g := newGuest(t, nil)
	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	legacy := append([]byte(nil), st[:512]...)
	xmm2 := pattern(16, 0x90)
	copy(legacy[fxXMM2:], xmm2)
	if err := g.cpu.SetFPState(legacy); err != nil {
		t.Fatalf("SetFPState(512 bytes): %v", err)
	}
	st, err = g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st[fxXMM2:fxXMM2+16], xmm2) {
		t.Errorf("xmm2 = %x, want %x", st[fxXMM2:fxXMM2+16], xmm2)
	}
	if err := g.cpu.SetFPState(st[:100]); err == nil {
		t.Error("SetFPState of 100 bytes succeeded, want an error")
	}
}

func TestAVX2RegistersSurviveSyscallExits(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Skip("host CPU or OS lacks AVX2")
	}
	var a asm
	a.raw(0xc5, 0xfe, 0x6f, 0x0c, 0x25, 0x00, 0x10, 0x40, 0x00) // vmovdqu dataAddr,%ymm1
	a.movEAX(39).syscall()
	a.movEAX(39).syscall()
	a.raw(0xc5, 0xfe, 0x7f, 0x0c, 0x25, 0x40, 0x10, 0x40, 0x00) // vmovdqu %ymm1,dataAddr+0x40
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	ymm := pattern(32, 0x11)
	copy(g.mem[dataAddr:], ymm)

	g.expectSyscall(39)
	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) < xsYMMHi1+16 {
		t.Fatalf("FPState is %d bytes, too short for the YMM state", len(st))
	}
	if !bytes.Equal(st[xsYMMHi1:xsYMMHi1+16], ymm[16:]) {
		t.Errorf("ymm1 upper half in the XSAVE image = %x, want %x", st[xsYMMHi1:xsYMMHi1+16], ymm[16:])
	}
	g.expectSyscall(39)
	g.expectSyscall(60)
	if got := g.mem[dataAddr+0x40 : dataAddr+0x60]; !bytes.Equal(got, ymm) {
		t.Errorf("ymm1 after two syscall exits = %x, want %x", got, ymm)
	}
}

func TestAVX512RegistersSurviveSyscallExits(t *testing.T) {
	if !cpu.X86.HasAVX512F {
		t.Skip("host CPU or OS lacks AVX-512F")
	}
	const mask = 0xa5a5_5a5a_f0f0_0f0f
	var a asm
	a.raw(0x48, 0xb8) // movabs $mask,%rax
	a.b = binary.LittleEndian.AppendUint64(a.b, mask)
	a.raw(0xc4, 0xe1, 0xfb, 0x92, 0xd8)                                     // kmovq %rax,%k3
	a.raw(0x62, 0xe1, 0xfe, 0x48, 0x6f, 0x0c, 0x25, 0x00, 0x10, 0x40, 0x00) // vmovdqu64 dataAddr,%zmm17
	a.movEAX(39).syscall()
	a.movEAX(39).syscall()
	a.raw(0x62, 0xe1, 0xfe, 0x48, 0x7f, 0x0c, 0x25, 0x40, 0x10, 0x40, 0x00) // vmovdqu64 %zmm17,dataAddr+0x40
	a.raw(0xc4, 0xe1, 0xfb, 0x93, 0xc3)                                     // kmovq %k3,%rax
	a.storeRAX(dataAddr + 0x100)
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	zmm := pattern(64, 0x23)
	copy(g.mem[dataAddr:], zmm)

	g.expectSyscall(39)
	// Round-trip the whole state through the caller as a signal frame would.
	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cpu.SetFPState(st); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(39)
	g.expectSyscall(60)
	if got := g.mem[dataAddr+0x40 : dataAddr+0x80]; !bytes.Equal(got, zmm) {
		t.Errorf("zmm17 after syscall exits = %x, want %x", got, zmm)
	}
	if got := g.word(dataAddr + 0x100); got != mask {
		t.Errorf("k3 after syscall exits = %#x, want %#x", got, uint64(mask))
	}
}

func TestFloatingPointExceptionsTellSIMDFromX87(t *testing.T) {
	const (
		fxFCW   = 0
		fxMXCSR = 24
	)
	tests := []struct {
		name   string
		code   func(a *asm) uint64
		edit   func(st []byte)
		vector uint8
	}{
		{
			name: "unmasked SSE invalid operation is #XM at the instruction",
			code: func(a *asm) uint64 {
				rip := a.at()
				a.raw(0xf3, 0x0f, 0x5e, 0xc1) // divss %xmm1,%xmm0 (0/0)
				return rip
			},
			edit:   func(st []byte) { binary.LittleEndian.PutUint32(st[fxMXCSR:], 0) }, // all unmasked
			vector: hvf.VectorXM,
		},
		{
			name: "unmasked x87 divide by zero is #MF at the next wait",
			code: func(a *asm) uint64 {
				a.raw(0xd9, 0xe8) // fld1
				a.raw(0xd9, 0xee) // fldz
				a.raw(0xde, 0xf9) // fdivrp: 1/0
				rip := a.at()
				a.raw(0x9b) // fwait
				return rip
			},
			edit:   func(st []byte) { binary.LittleEndian.PutUint16(st[fxFCW:], 0x0340) }, // all unmasked
			vector: hvf.VectorMF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a asm
			rip := tt.code(&a)
			g := newGuest(t, a.b)
			st, err := g.cpu.FPState()
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(st)
			if len(st) > 512 {
				st[xsXSTATEBV] |= 1 | xfeatureSSE // x87 and SSE state present
			}
			if err := g.cpu.SetFPState(st); err != nil {
				t.Fatal(err)
			}
			ex := g.run()
			want := hvf.Exit{Reason: hvf.ExitException, Vector: tt.vector}
			if ex != want {
				t.Errorf("exit = %+v, want %+v", ex, want)
			}
			if got := g.cpu.Regs().RIP; got != rip {
				t.Errorf("RIP = %#x, want %#x", got, rip)
			}
		})
	}
}
