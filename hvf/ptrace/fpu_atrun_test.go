package ptrace

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/cpu"
)

// xmm0Guest starts a guest that stores the low half of xmm0 at dataAddr
// and exits, and returns it with its FP state (an XSAVE image: the test
// is skipped where the host offers none).
func xmm0Guest(t *testing.T) (*guest, []byte) {
	t.Helper()
	var a asm
	a.raw(0x66, 0x48, 0x0f, 0x7e, 0xc0) // movq %xmm0,%rax
	a.storeRAX(dataAddr)
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) <= 512 {
		t.Skip("host offers no XSAVE regset")
	}
	return g, st
}

// expectXMM0 runs g to its exit and checks the xmm0 it stored.
func (g *guest) expectXMM0(want []byte) {
	g.t.Helper()
	g.expectSyscall(60)
	if got, w := g.word(dataAddr), binary.LittleEndian.Uint64(want); got != w {
		g.t.Errorf("guest read xmm0 low = %#x, want %#x", got, w)
	}
}

// A fork child's FP image set with SetFPStateAtRun is what FPState
// reports before the run and what the guest finds when it runs.
func TestFPStateAtRunLoadsWithTheRun(t *testing.T) {
	g, st := xmm0Guest(t)
	xmm0 := pattern(16, 0x55)
	copy(st[fxXMM0:], xmm0)
	st[xsXSTATEBV] |= xfeatureSSE
	v := g.cpu.(*vcpu)
	if err := v.SetFPStateAtRun(st); err != nil {
		t.Fatal(err)
	}
	if v.fpAtRun == nil {
		t.Fatal("a whole XSAVE image was set at once, not left for the run")
	}
	got, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, st) {
		t.Error("FPState before the run differs from the image left for it")
	}
	g.expectXMM0(xmm0)
	if err := v.SetFPStateAtRun(st[:100]); err == nil {
		t.Error("SetFPStateAtRun of 100 bytes succeeded, want an error")
	}
}

// In a guestproc that has not read an FP state yet (a spare's first
// process) the image's own length is taken for the host's XSAVE size.
func TestFPStateAtRunBeforeTheSizeIsKnown(t *testing.T) {
	g, st := xmm0Guest(t)
	saved := hostXsaveSize.Load()
	defer hostXsaveSize.Store(saved)
	v := g.cpu.(*vcpu)
	v.xsaveSize = 0
	hostXsaveSize.Store(0)

	xmm0 := pattern(16, 0x66)
	copy(st[fxXMM0:], xmm0)
	st[xsXSTATEBV] |= xfeatureSSE
	if err := v.SetFPStateAtRun(st); err != nil {
		t.Fatal(err)
	}
	if v.fpAtRun == nil {
		t.Fatal("the image was set at once, not left for the run")
	}
	g.expectXMM0(xmm0)
}

// A wrong guess (an image shorter than the host's but longer than FXSAVE)
// falls back at the run to SetFPState, which completes it from the
// current state, instead of failing the run.
func TestFPStateAtRunWrongGuessFallsBack(t *testing.T) {
	g, st := xmm0Guest(t)
	saved := hostXsaveSize.Load()
	defer hostXsaveSize.Store(saved)
	v := g.cpu.(*vcpu)
	v.xsaveSize = 0
	hostXsaveSize.Store(0)

	xmm0 := pattern(16, 0x77)
	copy(st[fxXMM0:], xmm0)
	st[xsXSTATEBV] |= xfeatureSSE
	if err := v.SetFPStateAtRun(st[:len(st)-64]); err != nil {
		t.Fatal(err)
	}
	g.expectXMM0(xmm0)
	if v.xsaveSize != len(st) {
		t.Errorf("XSAVE size after the fallback: %d, want the probed %d", v.xsaveSize, len(st))
	}
}

// A fork image with only x87 and SSE in use, loaded over a stub whose last
// process left AVX state, leaves the upper halves cleared, not that
// process's: the whole image goes in (XRSTOR's or ptrace's semantics).
func TestFPStateAtRunClearsAnEarlierUpperState(t *testing.T) {
	var a asm
	a.raw(0xc5, 0xfd, 0x76, 0xc0) // vpcmpeqd %ymm0,%ymm0,%ymm0: all ones
	a.movEAX(39).syscall()
	a.raw(0xc4, 0xe3, 0x7d, 0x39, 0xc1, 0x01) // vextracti128 $1,%ymm0,%xmm1
	a.raw(0x66, 0x48, 0x0f, 0x7e, 0xc8)       // movq %xmm1,%rax
	a.storeRAX(dataAddr)
	a.raw(0x66, 0x48, 0x0f, 0x7e, 0xc0) // movq %xmm0,%rax
	a.storeRAX(dataAddr + 8)
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	clean, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if len(clean) <= 512 {
		t.Skip("host offers no XSAVE regset")
	}
	if !cpu.X86.HasAVX2 {
		t.Skip("host CPU has no AVX2")
	}
	g.setWord(dataAddr, 0x1111)
	g.expectSyscall(39)
	dirty, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if xstateBV(dirty)&^xstateFPSSE == 0 {
		t.Fatalf("XSTATE_BV %#x after a 256-bit instruction shows no AVX state", xstateBV(dirty))
	}
	xmm0 := pattern(16, 0x77)
	copy(clean[fxXMM0:], xmm0)
	clean[xsXSTATEBV] |= xfeatureSSE
	v := g.cpu.(*vcpu)
	if err := v.SetFPStateAtRun(clean); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(60)
	if got := g.word(dataAddr); got != 0 {
		t.Errorf("ymm0's upper half = %#x after the image, want 0", got)
	}
	if got, want := g.word(dataAddr+8), binary.LittleEndian.Uint64(xmm0); got != want {
		t.Errorf("xmm0 low = %#x, want %#x", got, want)
	}
}

// xstateBV reads XSTATE_BV, the in-use components, of an XSAVE image.
func xstateBV(b []byte) uint64 {
	return binary.LittleEndian.Uint64(b[xstateBVAt:])
}
