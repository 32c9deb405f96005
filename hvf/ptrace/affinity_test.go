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
	// The placement before a run follows the run before it: after a
	// long one (a loaded host may stretch a short loop past longRun) the
	// stub is rightly free, and that run proves nothing.
	checked := 0
	for i := 0; checked < 3; i++ {
		if i == 1000 {
			t.Fatalf("only %d of 1000 runs followed a short one", checked)
		}
		prev := g.m.aff.lastRun
		g.expectSyscall(39)
		if prev >= longRun {
			continue
		}
		checked++
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(g.m.pid, &set); err != nil {
			t.Fatal(err)
		}
		if set.Count() != 1 || !set.IsSet(g.m.aff.cpu) {
			t.Fatalf("stub affinity has %d CPUs (pinned to %d recorded) after a %v run, want just that one",
				set.Count(), g.m.aff.cpu, prev)
		}
	}
}

func TestStubThatComputesLongIsFree(t *testing.T) {
	var a asm
	loop := a.at()
	// mov $0x4000000,%ecx; 1: dec %ecx; jnz 1b (tens of ms); getpid.
	a.raw(0xb9, 0x00, 0x00, 0x00, 0x04).raw(0xff, 0xc9, 0x75, 0xfc)
	a.movEAX(39).syscall()
	a.raw(0xe9) // jmp rel32 back to loop
	rel := int64(loop) - int64(a.at()+4)
	a.raw(byte(rel), byte(rel>>8), byte(rel>>16), byte(rel>>24))
	g := newGuest(t, a.b)
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if all.Count() < 2 {
		t.Skip("one CPU: nothing to pin")
	}
	g.expectSyscall(39) // pinned before this run, which is long
	g.expectSyscall(39) // so this one runs free
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(g.m.pid, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() < 2 || g.m.aff.cpu != -1 {
		t.Fatalf("after a long run the stub may use %d CPUs (pinned %d), want all", set.Count(), g.m.aff.cpu)
	}
}
