package ptrace

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// A fork child's FP image set with SetFPStateAtRun is what FPState
// reports before the run and what the guest finds when it runs.
func TestFPStateAtRunLoadsWithTheRun(t *testing.T) {
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
		t.Skip("host offers no XSAVE regset: SetFPStateAtRun sets at once")
	}
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
	g.expectSyscall(60)
	if got, want := g.word(dataAddr), binary.LittleEndian.Uint64(xmm0); got != want {
		t.Errorf("guest read xmm0 low = %#x, want %#x", got, want)
	}
	if err := v.SetFPStateAtRun(st[:100]); err == nil {
		t.Error("SetFPStateAtRun of 100 bytes succeeded, want an error")
	}
}

// In a guestproc that has not read an FP state yet (a spare's first
// process) the image's own length is taken for the host's XSAVE size.
func TestFPStateAtRunBeforeTheSizeIsKnown(t *testing.T) {
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
	g.expectSyscall(60)
	if got, want := g.word(dataAddr), binary.LittleEndian.Uint64(xmm0); got != want {
		t.Errorf("guest read xmm0 low = %#x, want %#x", got, want)
	}
}

// A wrong guess (an image shorter than the host's but longer than FXSAVE)
// falls back at the run to SetFPState, which completes it from the
// current state, instead of failing the run.
func TestFPStateAtRunWrongGuessFallsBack(t *testing.T) {
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
	g.expectSyscall(60)
	if got, want := g.word(dataAddr), binary.LittleEndian.Uint64(xmm0); got != want {
		t.Errorf("guest read xmm0 low = %#x, want %#x", got, want)
	}
	if v.xsaveSize != len(st) {
		t.Errorf("XSAVE size after the fallback: %d, want the probed %d", v.xsaveSize, len(st))
	}
}
