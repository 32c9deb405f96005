package ptrace

import (
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/hvf"
)

// An XSAVE image set with SetFPState waits for the run and goes in
// through the FP trampoline: the guest finds the image's registers, and
// every general register and flag as it was set, RAX and RDX (which the
// trampoline uses) included.
func TestFPTrampolineLoadsTheImageAndKeepsTheRegisters(t *testing.T) {
	var a asm
	a.storeRAX(dataAddr)
	a.raw(0x48, 0x89, 0xd0) // mov %rdx,%rax
	a.storeRAX(dataAddr + 8)
	a.raw(0x9c, 0x58) // pushfq; pop %rax
	a.storeRAX(dataAddr + 16)
	a.raw(0x66, 0x48, 0x0f, 0x7e, 0xc0) // movq %xmm0,%rax
	a.storeRAX(dataAddr + 24)
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) <= 512 || hostXsave.Load() == nil {
		t.Skip("host offers no XSAVE regset with XCR0")
	}
	xmm0 := pattern(16, 0x5a)
	copy(st[fxXMM0:], xmm0)
	st[xsXSTATEBV] |= xfeatureSSE
	v := g.cpu.(*vcpu)
	if err := v.SetFPState(st); err != nil {
		t.Fatal(err)
	}
	if v.fpAtRun == nil {
		t.Fatal("a whole image XRSTOR takes was set at once, not left for the trampoline")
	}
	r := g.cpu.Regs()
	r.RAX, r.RDX, r.RFLAGS = 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, 0x202|0x1|0x80 // CF, SF
	g.expectSyscall(60)
	if v.fpAtRun != nil {
		t.Error("the image is still pending after the run")
	}
	if got := g.word(dataAddr); got != 0x1111_2222_3333_4444 {
		t.Errorf("RAX = %#x", got)
	}
	if got := g.word(dataAddr + 8); got != 0x5555_6666_7777_8888 {
		t.Errorf("RDX = %#x", got)
	}
	if got := g.word(dataAddr+16) & 0xcd5; got != 0x81 {
		t.Errorf("RFLAGS arithmetic bits = %#x, want CF|SF", got)
	}
	if got, want := g.word(dataAddr+24), binary.LittleEndian.Uint64(xmm0); got != want {
		t.Errorf("xmm0 low = %#x, want %#x", got, want)
	}
	back, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if got := back[fxXMM0 : fxXMM0+16]; string(got) != string(xmm0) {
		t.Errorf("FPState after the run reads xmm0 %x, want %x", got, xmm0)
	}
}

// An image XRSTOR faults on (here: a component the host does not
// enable, which xsaveHost.accepts was made to let through) stops the
// guest in the trampoline: the run reports an interruption with the
// guest's registers intact, and the next run sets the image the checked
// way, which rejects it.
func TestFPTrampolineFaultFallsBackToTheCheckedWay(t *testing.T) {
	var a asm
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	st, err := g.cpu.FPState()
	if err != nil {
		t.Fatal(err)
	}
	h := hostXsave.Load()
	if len(st) <= 512 || h == nil {
		t.Skip("host offers no XSAVE regset with XCR0")
	}
	const pt = 1 << 8 // processor trace: supervisor state, never in XCR0
	if h.features&pt != 0 {
		t.Skip("XCR0 enables component 8")
	}
	defer hostXsave.Store(h)
	fake := *h
	fake.features |= pt
	hostXsave.Store(&fake)
	binary.LittleEndian.PutUint64(st[xsXSTATEBV:], binary.LittleEndian.Uint64(st[xsXSTATEBV:])|pt)
	v := g.cpu.(*vcpu)
	if err := v.SetFPState(st); err != nil {
		t.Fatal(err)
	}
	r := g.cpu.Regs()
	r.RAX = 0xabcd
	ex, err := g.cpu.Run()
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if ex.Reason != hvf.ExitInterrupted {
		t.Errorf("first run: exit %+v, want an interruption", ex)
	}
	if r := g.cpu.Regs(); r.RIP != codeAddr || r.RAX != 0xabcd {
		t.Errorf("after the fault RIP %#x RAX %#x, want %#x and 0xabcd", r.RIP, r.RAX, uint64(codeAddr))
	}
	if v.fpAtRun == nil || !v.fpNoTramp {
		t.Fatal("the faulting image is not left for the checked way")
	}
	if _, err := g.cpu.Run(); err == nil {
		t.Error("the second run loaded an image with a component XCR0 lacks")
	}
}

// The trampoline's bytes decode as written in fptramp.go: each
// RIP-relative operand lands on its slot.
func TestFPTrampolineOperands(t *testing.T) {
	c := fpTrampCode()
	le := binary.LittleEndian
	at := func(end int) uint64 {
		return uint64(int64(fpTrampAddr+uint64(end)) + int64(int32(le.Uint32(c[end-4:]))))
	}
	for _, w := range []struct {
		end  int
		want uint64
	}{{7, fpSlots}, {14, fpSlots + 8}, {29, fpArea}, {36, fpSlots}, {43, fpSlots + 8}, {49, fpSlots + 16}} {
		if got := at(w.end); got != w.want {
			t.Errorf("operand ending at %d points at %#x, want %#x", w.end, got, w.want)
		}
	}
	if len(c) != 49 || fpArea%64 != 0 {
		t.Errorf("trampoline of %d bytes, area at %#x", len(c), uint64(fpArea))
	}
}
