package ptrace

import (
	"runtime"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/hvf"
)

// TestThreadVCPURunsInItsOwnStubThread: a vCPU made with PrepareVCPU on
// the first vCPU's thread and attached on another OS thread runs guest code
// in a stub thread of its own; memory operations from that thread run
// there; its Kick reaches it alone; its Close ends the stub thread and the
// first vCPU goes on.
func TestThreadVCPURunsInItsOwnStubThread(t *testing.T) {
	var a asm
	a.movEAX(39).syscall().storeRAX(dataAddr).movEAX(60).syscall()
	second := a.at()
	a.movEAX(186).syscall().storeRAX(dataAddr + 8)
	spin := a.at()
	a.jmpTo(spin)
	g := newGuest(t, a.b)
	g.expectSyscall(39)

	attach, err := g.m.PrepareVCPU()
	if err != nil {
		t.Fatalf("PrepareVCPU: %v", err)
	}
	if n := threadCount(t, g.m.pid); n != 2 {
		t.Fatalf("stub has %d threads after PrepareVCPU, want 2", n)
	}
	type result struct {
		cpu hvf.VCPU
		err error
	}
	started := make(chan result)
	kicked := make(chan hvf.Exit)
	finish := make(chan struct{})
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // ends with the goroutine, as a vCPU thread does
		cpu, err := attach()
		if err != nil {
			started <- result{err: err}
			return
		}
		r := cpu.Regs()
		r.RIP, r.RSP, r.RFLAGS = second, stackTop-0x800, 0x202
		ex, err := cpu.Run()
		if err != nil || ex.Reason != hvf.ExitSyscall || r.RAX != 186 {
			started <- result{err: err}
			return
		}
		r.RAX = 777
		// A memory operation from this thread runs in its stub thread.
		if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
			started <- result{err: err}
			return
		}
		started <- result{cpu: cpu}
		ex, err = cpu.Run() // spins until kicked
		if err != nil {
			done <- err
			return
		}
		kicked <- ex
		<-finish
		done <- cpu.Close()
	}()
	res := <-started
	if res.err != nil {
		t.Fatalf("second vCPU: %v", res.err)
	}
	if m := stubMapping(t, g.m.pid, extraAddr); m == "" {
		t.Error("a Map from the second vCPU's thread did not reach the stub")
	}
	// A Kick before its Run resumes the stub thread would end that Run
	// at once (Kick's contract), before the store: kick once it spins.
	for g.word(dataAddr+8) != 777 {
		runtime.Gosched()
	}
	res.cpu.Kick()
	if ex := <-kicked; ex.Reason != hvf.ExitInterrupted {
		t.Errorf("kicked second vCPU exit = %+v, want ExitInterrupted", ex)
	}
	if got := g.word(dataAddr + 8); got != 777 {
		t.Errorf("second vCPU stored %d, want the kernel's 777", got)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatalf("Close of the second vCPU: %v", err)
	}
	if n := threadCount(t, g.m.pid); n != 1 {
		t.Errorf("stub has %d threads after the second vCPU closed, want 1", n)
	}
	if n := g.m.threads.n.Load(); n != 0 {
		t.Errorf("%d thread views left registered", n)
	}
	g.cpu.Regs().RAX = 42
	g.expectSyscall(60)
	if got := g.word(dataAddr); got != 42 {
		t.Errorf("first vCPU stored %d after the second one ended, want 42", got)
	}
}

// threadCount returns the number of threads of stub pid, its helper
// (helper.go) not counted.
func threadCount(t *testing.T, pid int) int {
	t.Helper()
	b, err := readFile("/proc/" + itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			var n int
			for _, c := range strings.TrimSpace(rest) {
				n = n*10 + int(c-'0')
			}
			if helperOn {
				n--
			}
			return n
		}
	}
	t.Fatal("no Threads: line")
	return 0
}
