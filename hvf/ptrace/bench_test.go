package ptrace

import (
	"github.com/elfuse/elfuse/hvf"
	"slices"

	"testing"
	"time"
)

// BenchmarkSyscallRoundTrip measures one guest syscall exit and re-entry
// (getppid in a loop), the backend's per-syscall overhead.
func BenchmarkSyscallRoundTrip(b *testing.B) {
	var a asm
	loop := a.at()
	a.movEAX(110).syscall().jmpTo(loop)
	g := newGuest(b, a.b)
	g.expectSyscall(110)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		g.cpu.Regs().RAX = 1
		ex, err := g.cpu.Run()
		if err != nil {
			b.Fatal(err)
		}
		if g.cpu.Regs().RAX != 110 {
			b.Fatalf("exit %+v RAX %d", ex, g.cpu.Regs().RAX)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per.Nanoseconds())/1000, "us/exit")
	b.Logf("ptrace syscall round trip: %v per exit over %d exits", per, b.N)
}

// BenchmarkNewMachine measures starting a stub (fork, exec, setup) and
// killing it, the backend's share of guest process start-up.
func BenchmarkNewMachine(b *testing.B) {
	g := newGuest(b, nil) // locks the thread, creates the backend
	_ = g
	for i := 0; i < b.N; i++ {
		m, err := testBackend.b.NewMachine(hvf.Config{AddrLimit: 1 << 46})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKickLatency measures the time from Kick to Run returning for a
// guest spinning in user mode.
func BenchmarkKickLatency(b *testing.B) {
	var a asm
	a.raw(0xeb, 0xfe) // jmp .
	g := newGuest(b, a.b)
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		kicked := make(chan time.Time, 1)
		go func() {
			time.Sleep(200 * time.Microsecond)
			kicked <- time.Now()
			g.cpu.Kick()
		}()
		ex, err := g.cpu.Run()
		if err != nil || ex.Reason != hvf.ExitInterrupted {
			b.Fatalf("Run = %+v, %v", ex, err)
		}
		lat = append(lat, time.Since(<-kicked))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "us-p50/kick")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "us-p99/kick")
}

// benchmarkMapBurst maps n pages of the guest memfd, the shape of a fork
// child's address space, one Map at a time or in one Apply.
func benchmarkMapBurst(b *testing.B, n int, batched bool) {
	g := newGuest(b, nil)
	ops := make([]hvf.MapOp, n)
	for i := range ops {
		a := uint64(extraAddr + i*pageSize)
		ops[i] = hvf.MapOp{Kind: hvf.OpMap, Addr: a, Len: pageSize, Prot: hvf.ProtRead, Fd: g.fd, Off: int64(a)}
	}
	b.ResetTimer()
	for range b.N {
		if batched {
			if _, err := g.m.Apply(ops); err != nil {
				b.Fatal(err)
			}
			continue
		}
		for _, op := range ops {
			if err := op.On(g.m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/burst")
}

// BenchmarkMapBurst11Single and BenchmarkMapBurst11Batched compare 11
// injected mmaps with one batch of 11.
func BenchmarkMapBurst11Single(b *testing.B)  { benchmarkMapBurst(b, 11, false) }
func BenchmarkMapBurst11Batched(b *testing.B) { benchmarkMapBurst(b, 11, true) }

// BenchmarkFPStateAfterStop measures the FP register-set requests a fork
// child, exec and signal delivery make on a stopped stub: setting a whole
// XSAVE image (PTRACE_SETREGSET) and reading it (PTRACE_GETREGSET), and
// what each adds to the guest run that follows, against a plain run.
func BenchmarkFPStateAfterStop(b *testing.B) {
	var a asm
	loop := a.at()
	a.movEAX(110).syscall().jmpTo(loop)
	g := newGuest(b, a.b)
	g.expectSyscall(110)
	img, err := g.cpu.FPState()
	if err != nil {
		b.Fatal(err)
	}
	var plain, set, afterSet, get, afterGet time.Duration
	run := func() time.Duration {
		t := time.Now()
		if _, err := g.cpu.Run(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t)
	}
	for i := 0; i < b.N; i++ {
		plain += run()
		t := time.Now()
		if err := g.cpu.SetFPState(img); err != nil {
			b.Fatal(err)
		}
		set += time.Since(t)
		afterSet += run()
		t = time.Now()
		if _, err := g.cpu.FPState(); err != nil {
			b.Fatal(err)
		}
		get += time.Since(t)
		afterGet += run()
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(per(plain), "us/plain-run")
	b.ReportMetric(per(set), "us/setfp")
	b.ReportMetric(per(afterSet), "us/run-after-set")
	b.ReportMetric(per(get), "us/getfp")
	b.ReportMetric(per(afterGet), "us/run-after-get")
}

// BenchmarkProtectToggle measures one Machine operation the stub must make
// (a page's protection, toggled so that each is real) on a stopped stub:
// in the helper thread, or with ELFUSE_PTRACE_HELPER=0 by the batch gadget
// in the stub's own thread.
func BenchmarkProtectToggle(b *testing.B) {
	g := newGuest(b, nil)
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead|hvf.ProtWrite, g.fd, extraAddr); err != nil {
		b.Fatal(err)
	}
	prots := []hvf.Prot{hvf.ProtRead, hvf.ProtRead | hvf.ProtWrite}
	b.ResetTimer()
	m := g.m
	for i := range b.N {
		m.placeStub(0) // as before each guest run: on the tracer's CPU
		if err := g.m.Protect(extraAddr, pageSize, prots[i%2]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "us/op")
}
