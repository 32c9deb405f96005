package ptrace

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/elfuse/elfuse/hvf"
)

// guestMappings returns the stub's mappings below its image.
func guestMappings(t *testing.T, m *machine) []mapping {
	t.Helper()
	data, err := readFile(fmt.Sprintf("/proc/%d/maps", m.pid))
	if err != nil {
		t.Fatal(err)
	}
	all, err := parseMaps(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []mapping
	for _, r := range all {
		if r.end-r.start == pageSize && slices.Contains(m.anchors, r.start) {
			continue // a page-table anchor (anchor.go)
		}
		if r.end <= stubBase {
			out = append(out, r)
		}
	}
	return out
}

// TestRecycle runs a guest, recycles its machine and runs another on the
// same stub: the old mappings and vCPU are gone, the new ones work.
func TestRecycle(t *testing.T) {
	g := newGuest(t, []byte{0x0f, 0x05}) // syscall
	g.cpu.Regs().RAX = 39
	g.expectSyscall(39)
	if got := guestMappings(t, g.m); len(got) == 0 {
		t.Fatal("no guest mapping in the stub before Recycle")
	}
	if err := g.m.Recycle(); err != nil {
		t.Fatalf("Recycle: %v", err)
	}
	// The stub unmaps on its own; the next request waits for it.
	if err := g.m.sync(); err != nil {
		t.Fatalf("the stub's recycle batch: %v", err)
	}
	if got := guestMappings(t, g.m); len(got) != 0 {
		t.Fatalf("guest mappings left after Recycle: %+v", got)
	}
	if len(g.m.files.fds) != 0 {
		t.Fatalf("stub file cache not emptied: %v", g.m.files.fds)
	}

	// The next process: a new vCPU; its code page is not mapped yet.
	cpu, err := g.m.NewVCPU()
	if err != nil {
		t.Fatalf("NewVCPU after Recycle: %v", err)
	}
	g.cpu = cpu
	cpu.Regs().RIP, cpu.Regs().RSP, cpu.Regs().RFLAGS = codeAddr, stackTop, 0x202
	if ex := g.run(); ex.Reason != hvf.ExitException || ex.Vector != hvf.VectorPF || ex.FaultAddr != codeAddr {
		t.Fatalf("run on the recycled machine with nothing mapped: %+v, want #PF at %#x", ex, uint64(codeAddr))
	}
	if err := g.m.Map(codeAddr, pageSize, hvf.ProtRead|hvf.ProtExec, g.fd, codeAddr); err != nil {
		t.Fatalf("Map after Recycle: %v", err)
	}
	cpu.Regs().RIP, cpu.Regs().RAX = codeAddr, 60
	g.expectSyscall(60)
	if u, s, err := g.m.StubTimes(); err != nil || u < 0 || s < 0 {
		t.Fatalf("StubTimes = %v, %v, %v", u, s, err)
	}
}

// TestRecycleClosed refuses a closed machine.
func TestRecycleClosed(t *testing.T) {
	g := newGuest(t, []byte{0x0f, 0x05})
	g.m.Close()
	if err := g.m.Recycle(); err == nil {
		t.Fatal("Recycle of a closed machine succeeded")
	}
}

// BenchmarkInjectedSyscall measures one syscall injected into the stub
// (what each Map, Protect and Unmap costs): the unit a batched mapping
// table would save.
func BenchmarkInjectedSyscall(b *testing.B) {
	g := newGuest(b, []byte{0x0f, 0x05})
	for i := 0; i < b.N; i++ {
		if _, err := g.m.inject(39); err != nil { // getpid
			b.Fatal(err)
		}
	}
}

// TestStubTimesGrowsAndClosesWithTheMachine: the times grow as the stub
// computes, mostly as user time (the spin makes one syscall), add up to
// the stub's CPU clock, and a closed machine reports an error rather than
// another process's times.
func TestStubTimesGrowsAndClosesWithTheMachine(t *testing.T) {
	var a asm
	// Spin ~50 ms of user time: dec rcx; jnz; then getpid.
	a.raw(0x48, 0xb9).raw(0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0) // mov rcx, 0x4000000
	a.raw(0x48, 0xff, 0xc9, 0x75, 0xfb)                       // 1: dec rcx; jnz 1b
	a.movEAX(39).syscall()
	g := newGuest(t, a.b)
	u0, s0, err := g.m.StubTimes()
	if err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(39)
	u1, s1, err := g.m.StubTimes()
	if err != nil {
		t.Fatal(err)
	}
	if u1+s1 <= u0+s0 {
		t.Errorf("stub times %v+%v after computing, %v+%v before: no growth", u1, s1, u0, s0)
	}
	if du, ds := u1-u0, s1-s0; du < ds {
		t.Errorf("a user-mode spin grew user time by %v, system time by %v", du, ds)
	}
	// The stub waits in its syscall's stop: its clock stands still.
	if cpu, err := g.m.StubCPU(); err != nil || cpu != u1+s1 {
		t.Errorf("StubCPU = %v, %v; StubTimes add up to %v", cpu, err, u1+s1)
	}
	g.m.Close()
	if _, _, err := g.m.StubTimes(); err == nil {
		t.Error("StubTimes of a closed machine succeeded")
	}
}

func BenchmarkStubTimes(b *testing.B) {
	g := newGuest(b, []byte{0x0f, 0x05})
	for range b.N {
		if _, _, err := g.m.StubTimes(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSplitCPU(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct{ total, user, sys, wantU, wantS time.Duration }{
		{10 * ms, 0, 0, 10 * ms, 0},      // no tick sampled it: all user
		{10 * ms, 4 * ms, 0, 10 * ms, 0}, // user ticks only
		{10 * ms, 0, 4 * ms, 0, 10 * ms}, // system ticks only
		{10 * ms, 4 * ms, 4 * ms, 5 * ms, 5 * ms},
		{12 * ms, 4 * ms, 8 * ms, 4 * ms, 8 * ms},
		{9 * ms, 8 * ms, 4 * ms, 6 * ms, 3 * ms}, // ticks overstate: scaled down
	} {
		u, s := splitCPU(c.total, c.user, c.sys)
		if u != c.wantU || s != c.wantS || u+s != c.total {
			t.Errorf("splitCPU(%v, %v, %v) = %v, %v; want %v, %v", c.total, c.user, c.sys, u, s, c.wantU, c.wantS)
		}
	}
}
