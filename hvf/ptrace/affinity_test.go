package ptrace

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestStubIsPinnedToItsTracersCPU(t *testing.T) {
	var a asm
	loop := a.at()
	a.movEAX(39).syscall().jmpTo(loop) // getpid, forever
	g := newGuest(t, a.b)
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if all.Count() < 2 {
		t.Skip("one CPU: nothing to pin")
	}
	for range 3 {
		g.expectSyscall(39)
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(g.m.pid, &set); err != nil {
			t.Fatal(err)
		}
		if set.Count() != 1 || !set.IsSet(g.m.stubCPU) {
			t.Fatalf("stub affinity has %d CPUs (pinned to %d recorded), want just that one", set.Count(), g.m.stubCPU)
		}
	}
}
