package kernel

import (
	"runtime"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// An interruption may land anywhere around the start of the host wait
// (before the pending check, between it and the syscall, or inside); the
// wait must end promptly in every case.
func TestInterruptWaitRacesWithTheStartOfAWait(t *testing.T) {
	e := newProcTestEnv(t)
	copy(e.bytesAt(testMemBase, 16), abi.Timespec{Sec: 10}.Bytes())
	delays := []time.Duration{0, time.Microsecond, 5 * time.Microsecond, 20 * time.Microsecond, 100 * time.Microsecond}
	for i := range 60 {
		d := delays[i%len(delays)]
		res := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			_, err := e.call(Nanosleep, uint64(testMemBase), 0)
			res <- err
		}()
		if d > 0 {
			time.Sleep(d)
		}
		e.t.InterruptWait()
		select {
		case err := <-res:
			if errnoOf(err) != abi.EINTR {
				t.Fatalf("round %d: %v, want EINTR", i, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d (delay %v): interrupted sleep did not end", i, d)
		}
		e.t.ClearInterrupt()
	}
}

// interruptPending reports whether a wait started now would be cut short.
func (t *Task) interruptPending() bool {
	w := t.waitState()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.interrupted
}

func TestClearInterruptLetsTheNextWaitBlock(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.InterruptWait()
	if !e.t.interruptPending() {
		t.Fatal("InterruptWait left nothing pending")
	}
	e.t.ClearInterrupt()
	if e.t.interruptPending() {
		t.Fatal("ClearInterrupt left the mark")
	}
	copy(e.bytesAt(testMemBase, 16), abi.Timespec{Nsec: 5e6}.Bytes())
	if _, err := e.call(Nanosleep, uint64(testMemBase), 0); err != nil {
		t.Fatalf("sleep after ClearInterrupt: %v", err)
	}
}

// A kick that lands before the thread enters its host call is lost; the
// kicker must keep kicking until the wait it aimed at has ended.
func TestKickerRepeatsUntilTheWaitEnds(t *testing.T) {
	e := newProcTestEnv(t)
	w := e.t.waitState()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		w.mu.Lock()
		w.gen++
		w.hostTid = unix.Gettid()
		w.mu.Unlock()
		close(ready)
		time.Sleep(30 * time.Millisecond) // the first kicks land here and are lost
		ts := unix.Timespec{Sec: 10}
		err := unix.Nanosleep(&ts, nil)
		w.mu.Lock()
		w.hostTid = 0
		w.mu.Unlock()
		done <- err
	}()
	<-ready
	e.t.InterruptWait()
	select {
	case err := <-done:
		if err != unix.EINTR {
			t.Fatalf("host sleep returned %v, want EINTR from a kick", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no kick reached the host sleep")
	}
}
