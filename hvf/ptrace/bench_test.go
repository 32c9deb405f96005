package ptrace

import (
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
