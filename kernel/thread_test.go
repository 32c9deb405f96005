package kernel

import (
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// threadTestEnv is a fake process with a second thread (tid 101) whose
// vCPU only counts kicks.
func threadTestEnv(t *testing.T) (*sigTestEnv, *Task, *sigTestCPU) {
	e := newSigTestEnv(t)
	cpu2 := &sigTestCPU{fp: testFPImage(0x22)}
	t2 := &Task{Proc: e.t.Proc, CPU: cpu2, Log: e.t.Log, Tid: 101, OrigRAX: noSyscall,
		thread: threadState{spawned: true}}
	e.t.register()
	e.t.Proc.addThread(e.t, t2)
	t2.register()
	return e, t2, cpu2
}

func TestTgkillOfASiblingQueuesOnItAndKicksIt(t *testing.T) {
	e, t2, cpu2 := threadTestEnv(t)
	if rax := e.syscall(abi.SYS_TGKILL, 100, 101, abi.SIGUSR1); rax != 0 {
		t.Fatalf("tgkill(100, 101, SIGUSR1) = %d (%v)", int64(rax), sigErrno(rax))
	}
	s := e.t.Proc.Signals
	s.mu.Lock()
	own, sib := e.t.pendingLocked(), t2.pendingLocked()
	s.mu.Unlock()
	if own.Has(abi.SIGUSR1) || !sib.Has(abi.SIGUSR1) {
		t.Errorf("pending: sender %#x, target %#x; want SIGUSR1 on the target only", own, sib)
	}
	if cpu2.kicks.Load() == 0 {
		t.Error("the target's vCPU was not kicked")
	}
	if rax := e.syscall(abi.SYS_TGKILL, 100, 555, abi.SIGUSR1); sigErrno(rax) != abi.ESRCH {
		t.Errorf("tgkill of an unknown tid = %d, want ESRCH", int64(rax))
	}
}

func TestProcessSignalWakesOnlySiblingsThatDoNotBlockIt(t *testing.T) {
	e, t2, cpu2 := threadTestEnv(t)
	t2.setSigMask(abi.SigBit(abi.SIGUSR2))
	e.sigaction(t, abi.SIGUSR1, handlerAct(0, 0))
	e.sigaction(t, abi.SIGUSR2, handlerAct(0, 0))
	// The sender blocks both, so they stay pending for the process.
	e.t.setSigMask(abi.SigBit(abi.SIGUSR1) | abi.SigBit(abi.SIGUSR2))
	e.syscall(abi.SYS_KILL, 100, abi.SIGUSR2)
	if n := cpu2.kicks.Load(); n != 0 {
		t.Errorf("a sibling blocking SIGUSR2 was kicked %d times", n)
	}
	e.syscall(abi.SYS_KILL, 100, abi.SIGUSR1)
	if cpu2.kicks.Load() == 0 {
		t.Error("a sibling not blocking SIGUSR1 was not kicked")
	}
}

func TestThreadExitClearsChildTidAndTheLastEndsTheProcess(t *testing.T) {
	e, t2, _ := threadTestEnv(t)
	word := testScratch + 0x100
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 101)
	e.mem.CopyOut(word, b[:])
	t2.ClearTID = word

	if _, err := Exit(t2, &Args{3}); err != ErrNoReturn {
		t.Fatalf("exit of the second thread: %v, want ErrNoReturn", err)
	}
	e.mem.CopyIn(word, b[:])
	if got := binary.LittleEndian.Uint32(b[:]); got != 0 {
		t.Errorf("clear_child_tid word = %d after the thread's exit, want 0", got)
	}
	if !t2.thread.exited {
		t.Error("the exiting thread is not marked exited")
	}
	if done, _ := e.t.Proc.Exited(); done || e.host.exited {
		t.Fatal("the process ended when one of two threads exited")
	}
	if got := e.t.guestTids(); len(got) != 1 || got[0] != 100 {
		t.Errorf("threads after the exit: %v, want [100]", got)
	}
	if _, err := Exit(e.t, &Args{5}); err != ErrNoReturn {
		t.Fatalf("exit of the last thread: %v", err)
	}
	if done, status := e.t.Proc.Exited(); !done || status != 5<<8 || e.host.exitCode != 5<<8 {
		t.Errorf("after the last exit: exited %v status %#x (host %#x), want status %#x", done, status, e.host.exitCode, 5<<8)
	}
}

func TestExitGroupKillsAndKicksEveryThread(t *testing.T) {
	e, t2, cpu2 := threadTestEnv(t)
	e.syscall(abi.SYS_EXIT_GROUP, 9)
	if done, status := e.t.Proc.Exited(); !done || status != 9<<8 {
		t.Fatalf("exit_group: exited %v status %#x", done, status)
	}
	s := e.t.Proc.Signals
	s.mu.Lock()
	pend := t2.pendingLocked()
	s.mu.Unlock()
	if !pend.Has(abi.SIGKILL) || cpu2.kicks.Load() == 0 {
		t.Errorf("sibling after exit_group: pending %#x, kicks %d; want SIGKILL pending and a kick", pend, cpu2.kicks.Load())
	}
	select {
	case <-e.t.Proc.threads.ended:
	default:
		t.Error("the thread group's end was not signalled")
	}
}
