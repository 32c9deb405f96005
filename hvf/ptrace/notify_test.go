package ptrace

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/elfuse/elfuse/hvf"
)

// notifySlowNr is the syscall number the tests declare slow (mmap).
const notifySlowNr = 9

// newNotifyGuest is newGuest on a stub of its own in notify mode.
func newNotifyGuest(t *testing.T, code []byte) *guest {
	t.Helper()
	notifyConfig.slow[notifySlowNr] = true
	g := newGuest(t, nil) // locks the thread and makes the guest memory
	notifyConfig.on.Store(true)
	m, err := startMachine(hclog.NewNullLogger(), 1<<46)
	notifyConfig.on.Store(false)
	if err != nil {
		t.Fatalf("startMachine: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if m.nf.fd < 0 {
		t.Fatal("no seccomp listener on this host")
	}
	g.load(m, code)
	return g
}

// movRBX emits mov $imm,%rbx (sign-extended 32 bits).
func (a *asm) movRBX(imm uint32) *asm {
	a.raw(0x48, 0xc7, 0xc3)
	a.b = append(a.b, byte(imm), byte(imm>>8), byte(imm>>16), byte(imm>>24))
	return a
}

// TestNotifyAnswer: a fast syscall exit carries the number, the arguments
// and RIP, and the answer is the guest's RAX without a stop of the stub.
func TestNotifyAnswer(t *testing.T) {
	var a asm
	a.raw(0xbf, 0x11, 0, 0, 0) // mov $0x11,%edi
	a.movEAX(39).syscall()
	after := a.at()
	a.storeRAX(dataAddr).movEAX(39).syscall()
	g := newNotifyGuest(t, a.b)
	g.expectSyscall(39)
	r := g.cpu.Regs()
	if r.RDI != 0x11 || r.RIP != after {
		t.Fatalf("exit: rdi %#x rip %#x, want 0x11 and %#x", r.RDI, r.RIP, after)
	}
	if !g.m.nf.held || !g.m.vcpu.partial {
		t.Fatal("a fast syscall exit did not hold its notification")
	}
	runs := g.m.gadgetRuns
	r.RAX = 0xabcdef
	g.expectSyscall(39)
	if got := g.word(dataAddr); got != 0xabcdef {
		t.Fatalf("guest saw %#x, want 0xabcdef", got)
	}
	if g.m.gadgetRuns != runs {
		t.Fatal("the answer ran gadgets")
	}
}

// TestNotifySlowSyscall: a syscall on the slow list is a whole exit.
func TestNotifySlowSyscall(t *testing.T) {
	var a asm
	a.movRBX(0x5151).movEAX(notifySlowNr).syscall()
	a.storeRAX(dataAddr).movEAX(39).syscall()
	g := newNotifyGuest(t, a.b)
	g.expectSyscall(notifySlowNr)
	if g.m.nf.held || g.m.vcpu.partial {
		t.Fatal("a slow syscall's exit is partial")
	}
	if got := g.cpu.Regs().RBX; got != 0x5151 {
		t.Fatalf("rbx = %#x, want 0x5151", got)
	}
	g.cpu.Regs().RAX = 42
	g.expectSyscall(39)
	if got := g.word(dataAddr); got != 42 {
		t.Fatalf("guest saw %d, want 42", got)
	}
}

// TestNotifyLoadRegs: LoadRegs makes a partial exit whole; a changed RIP
// then takes effect (the guest skips the store), RAX with it.
func TestNotifyLoadRegs(t *testing.T) {
	var a asm
	a.movRBX(0x7272).movEAX(39).syscall()
	a.storeRAX(dataAddr) // skipped
	target := a.at()
	a.storeRAX(dataAddr + 8).movEAX(39).syscall()
	g := newNotifyGuest(t, a.b)
	g.expectSyscall(39)
	if err := hvf.LoadRegs(g.cpu); err != nil {
		t.Fatal(err)
	}
	r := g.cpu.Regs()
	if r.RBX != 0x7272 || r.RSP != stackTop {
		t.Fatalf("after LoadRegs rbx %#x rsp %#x, want 0x7272 and %#x", r.RBX, r.RSP, uint64(stackTop))
	}
	r.RIP, r.RAX = target, 99
	g.expectSyscall(39)
	if g.word(dataAddr) != 0 || g.word(dataAddr+8) != 99 {
		t.Fatalf("guest stored %d and %d, want 0 and 99", g.word(dataAddr), g.word(dataAddr+8))
	}
}

// getpidAt is guest code that jumps to addr, in the stub's code page,
// with RAX getpid's number.
func getpidAt(addr uint64) []byte {
	var a asm
	a.movEAX(39)
	a.raw(0x48, 0xb9) // movabs $addr,%rcx
	for i := range 8 {
		a.raw(byte(addr >> (8 * i)))
	}
	a.raw(0xff, 0xe1) // jmp *%rcx
	return a.b
}

// TestNotifyGadgetsDisarmed: guest code that jumps to the stub's syscall
// gadget while it runs in notify mode finds an int3 there, not a syscall
// the filter would let through.
func TestNotifyGadgetsDisarmed(t *testing.T) {
	for _, site := range syscallSites {
		addr := uint64(stubBase + site)
		g := newNotifyGuest(t, getpidAt(addr))
		ex := g.run()
		// An armed site would run the syscall natively and stop further
		// on (the gadget's int3 after it, or a fault).
		if ex.Reason != hvf.ExitException || ex.Vector != hvf.VectorBP || g.cpu.Regs().RIP != addr+1 {
			t.Fatalf("jump to gadget site %#x: exit %+v at rip %#x, want #BP at %#x",
				site, ex, g.cpu.Regs().RIP, addr+1)
		}
		if g.m.nf.armed {
			t.Fatal("gadgets armed while the guest ran")
		}
	}
}

// TestNotifyFaultAndKick: a fault and a Kick, stops the listener does not
// report, end the wait.
func TestNotifyFaultAndKick(t *testing.T) {
	var a asm
	a.loadRAX(0x10000) // unmapped
	g := newNotifyGuest(t, a.b)
	t0 := time.Now()
	ex := g.run()
	t.Logf("fault reported after %v", time.Since(t0))
	if ex.Reason != hvf.ExitException || ex.Vector != hvf.VectorPF || ex.FaultAddr != 0x10000 {
		t.Fatalf("exit %+v, want #PF at 0x10000", ex)
	}
	if g.m.notifyActive() {
		t.Fatal("notify mode still on after a fault: each later fault would wait a poll timeout")
	}
	if err := g.m.Recycle(); err != nil {
		t.Fatal(err)
	}
	if !g.m.notifyActive() {
		t.Fatal("a recycled stub did not go back to notify mode")
	}

	var b asm
	b.raw(0xeb, 0xfe) // jmp .
	g = newNotifyGuest(t, b.b)
	go func() {
		time.Sleep(20 * time.Millisecond)
		g.cpu.Kick()
	}()
	start := time.Now()
	if ex := g.run(); ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("exit %+v, want interrupted", ex)
	}
	t.Logf("kick ended the run after %v", time.Since(start))
}

// BenchmarkNotifyRoundTrip is BenchmarkSyscallRoundTrip in notify mode.
func BenchmarkNotifyRoundTrip(b *testing.B) {
	var a asm
	loop := a.at()
	a.movEAX(110).syscall().jmpTo(loop)
	g := newGuest(b, nil)
	notifyConfig.on.Store(true)
	m, err := startMachine(hclog.NewNullLogger(), 1<<46)
	notifyConfig.on.Store(false)
	if err != nil || m.nf.fd < 0 {
		b.Skipf("no notify mode: %v", err)
	}
	defer m.Close()
	g.load(m, a.b)
	cpu := g.cpu
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cpu.Regs().RAX = 1
		if ex, err := cpu.Run(); err != nil || ex.Reason != hvf.ExitSyscall {
			b.Fatalf("Run = %+v, %v", ex, err)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per.Nanoseconds())/1000, "us/exit")
}

// TestNotifyKicksThenSyscalls: after Kicks, however their stops were
// found, the guest's next syscalls are notifications again (a Kick's
// eventfd left behind once made the tracer wait for a stop that never
// came).
func TestNotifyKicksThenSyscalls(t *testing.T) {
	var a asm
	start := a.at()
	a.raw(0xb9, 0x00, 0x00, 0x02, 0x00) // mov $0x20000,%ecx
	spin := a.at()
	a.raw(0xff, 0xc9) // dec %ecx
	a.raw(0x75, byte(int8(int64(spin)-int64(a.at()+2))))
	a.movEAX(39).syscall()
	a.jmpTo(start)
	g := newNotifyGuest(t, a.b)
	kicks, syscalls := 0, 0
	for i := 0; i < 200; i++ {
		if i%3 == 0 {
			go func() {
				time.Sleep(time.Duration(i%7) * 10 * time.Microsecond)
				g.cpu.Kick()
			}()
		}
		switch ex := g.run(); ex.Reason {
		case hvf.ExitInterrupted:
			kicks++
		case hvf.ExitSyscall:
			syscalls++
			g.cpu.Regs().RAX = 1
		default:
			t.Fatalf("exit %+v", ex)
		}
	}
	if syscalls == 0 {
		t.Fatal("no syscall exit in 200 runs")
	}
	t.Logf("%d syscall exits, %d interrupted", syscalls, kicks)
}

// TestSyscallSitesAreSyscalls: syscallSites, which the filter lets
// through and arm/disarm rewrite, and helperSites, which only the helper
// thread (without the filter) may run, are exactly the stub image's
// syscall instructions.
func TestSyscallSitesAreSyscalls(t *testing.T) {
	code := stubImage()[:pageSize]
	var found []uint64
	for off := uint64(codeOff); off+1 < pageSize; off++ {
		if code[off] == 0x0f && code[off+1] == 0x05 {
			found = append(found, off)
		}
	}
	want := append(append([]uint64{}, syscallSites...), helperSites...)
	if len(found) != len(want) {
		t.Fatalf("syscall instructions at %#x, sites %#x", found, want)
	}
	for i := range found {
		if found[i] != want[i] {
			t.Fatalf("syscall instructions at %#x, sites %#x", found, want)
		}
	}
}

// TestNotifyLetsTheCollectorRun: the tracer's raw poll keeps its P while
// a guest computes; a stop-the-world (a collection) must still get
// through without waiting for the guest's next exit.
func TestNotifyLetsTheCollectorRun(t *testing.T) {
	var a asm
	a.raw(0xeb, 0xfe) // jmp .
	g := newNotifyGuest(t, a.b)
	var collected atomic.Bool
	go func() {
		time.Sleep(5 * time.Millisecond)
		runtime.GC()
		collected.Store(true)
		g.cpu.Kick()
	}()
	// A safety net so that a broken build fails instead of hanging.
	safety := time.AfterFunc(10*time.Second, g.cpu.Kick)
	defer safety.Stop()
	if ex := g.run(); ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("exit %+v, want interrupted", ex)
	}
	if !collected.Load() {
		t.Fatal("the collection waited for the guest's exit")
	}
}
