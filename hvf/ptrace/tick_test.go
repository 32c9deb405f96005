package ptrace

import (
	"runtime"
	"testing"
	"time"

	"github.com/elfuse/elfuse/hvf"
)

// A guest that computes for long is stopped by the stub's tick, which the
// Run loop swallows: the caller sees the guest's next system call only.
func TestTicksDoNotEndARun(t *testing.T) {
	var a asm
	a.raw(0xb9, 0x00, 0xa3, 0xe1, 0x11) // mov ecx, 300 000 000
	a.raw(0xff, 0xc9, 0x75, 0xfc)       // 1: dec ecx; jnz 1b (at least 100 ms)
	a.movEAX(39).syscall()
	g := newGuest(t, a.b)
	if !g.m.ticking {
		t.Fatal("the stub's tick timer is not armed")
	}
	g.expectSyscall(39)
	if g.m.ticks == 0 {
		t.Fatal("a run of 300 million iterations saw no tick")
	}
}

// The tracer's raw wait for a spinning guest must not keep the Go runtime
// from stopping the world: a collection finishes while the guest still
// spins (without the tick, runtime.GC would wait for the run to end, and
// the kick that ends it comes only after the collection).
func TestRawWaitLetsTheCollectorRun(t *testing.T) {
	var a asm
	a.raw(0xeb, 0xfe) // jmp .
	g := newGuest(t, a.b)
	collected := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond) // let the guest run first
		runtime.GC()
		close(collected)
		g.cpu.Kick()
	}()
	ex := g.run()
	select {
	case <-collected:
	default:
		t.Fatal("Run returned before the collection ended")
	}
	if ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("exit = %+v, want ExitInterrupted (the kick)", ex)
	}
}
