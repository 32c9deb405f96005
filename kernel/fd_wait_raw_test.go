package kernel

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func rawTestPipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// pollHost returns 0 only once the deadline has passed, also when the raw
// span ends first, and returns the ready count when data comes after the
// raw span.
func TestPollHostOutlivesItsRawSpan(t *testing.T) {
	task := &Task{Proc: &Process{}}
	r, w := rawTestPipe(t)
	fds := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}

	dl := deadlineAfter(30 * time.Millisecond)
	rawUntil := time.Now().Add(time.Millisecond)
	var n int
	var err error
	for { // an EINTR (the runtime's preemption signal) is retried, as waitPoll does
		if n, err = task.pollHost(fds, dl, rawUntil); err != unix.EINTR {
			break
		}
	}
	if err != nil || n != 0 {
		t.Fatalf("pollHost with nothing to read = %d, %v; want 0 at the deadline", n, err)
	}
	if time.Now().Before(dl.at) {
		t.Fatal("pollHost returned 0 before its deadline")
	}

	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(w, []byte{1})
	}()
	for {
		n, err = task.pollHost(fds, deadline{forever: true}, time.Now().Add(time.Millisecond))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil || n != 1 {
		t.Fatalf("pollHost for data written after the raw span = %d, %v; want 1", n, err)
	}
}

// A raw wait does not keep the Go runtime from stopping the world: a
// collection finishes while awaitHangup still waits (the runtime's
// preemption signal ends the raw ppoll with EINTR).
func TestAwaitHangupLetsTheCollectorRun(t *testing.T) {
	task := &Task{Proc: &Process{}}
	r, w := rawTestPipe(t)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		task.awaitHangup(r)
		close(done)
	}()
	time.Sleep(20 * time.Millisecond) // let it wait first
	runtime.GC()
	select {
	case <-done:
		t.Fatal("awaitHangup returned before anything was written")
	default:
	}
	unix.Write(w, []byte{1}) // readable: the wait ends
	<-done
}
