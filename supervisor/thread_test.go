package supervisor

import (
	"errors"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestThreadIdsComeFromThePidSpaceAndAreNotReusedWhileAlive(t *testing.T) {
	tr := family(t, 0) // pids 1-4
	tid, err := tr.NewTid(2)
	if err != nil {
		t.Fatal(err)
	}
	if tid != 5 {
		t.Fatalf("first thread id %d, want 5 (next free id)", tid)
	}
	pid, err := tr.Fork(1, abi.SIGCHLD)
	if err != nil {
		t.Fatal(err)
	}
	if pid == tid {
		t.Fatalf("fork reused live thread id %d", tid)
	}
	if g, ok := tr.TgidOf(tid); !ok || g != 2 {
		t.Fatalf("TgidOf(%d) = %d, %v; want 2", tid, g, ok)
	}
	if g, ok := tr.TgidOf(2); !ok || g != 2 {
		t.Fatalf("TgidOf(2) = %d, %v; want 2 (a process is its own group)", g, ok)
	}
	if got := tr.Tids(2); len(got) != 1 || got[0] != tid {
		t.Fatalf("Tids(2) = %v, want [%d]", got, tid)
	}
	tr.FreeTid(3, tid) // not its process: no effect
	if !tr.isThread(tid) {
		t.Fatal("FreeTid by another process released the id")
	}
	tr.FreeTid(2, tid)
	if tr.isThread(tid) {
		t.Fatal("FreeTid did not release the id")
	}
}

func TestThreadIdsAreFreedWhenTheProcessExits(t *testing.T) {
	tr := family(t, 0)
	a, _ := tr.NewTid(4)
	b, _ := tr.NewTid(4)
	tr.Exit(4, 0, abi.Rusage{})
	if tr.isThread(a) || tr.isThread(b) {
		t.Fatalf("thread ids %d, %d still held after their process exited", a, b)
	}
	if _, err := tr.NewTid(4); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("NewTid of a zombie: %v, want ESRCH", err)
	}
}

func TestThreadIdsCountTowardsMaxProcs(t *testing.T) {
	tr := family(t, 5)
	if _, err := tr.NewTid(1); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.NewTid(1); !errors.Is(err, abi.EAGAIN) {
		t.Fatalf("thread past max-procs: %v, want EAGAIN", err)
	}
}

func TestKillOfAThreadIdTargetsItsProcess(t *testing.T) {
	tr := family(t, 0)
	tid, _ := tr.NewTid(3)
	if g := tr.tgidOrSelf(tid); g != 3 {
		t.Fatalf("tgidOrSelf(%d) = %d, want 3", tid, g)
	}
	if g := tr.tgidOrSelf(4); g != 4 {
		t.Fatalf("tgidOrSelf(4) = %d, want 4", g)
	}
}
