package kernel

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// treeFDTestHost is treeTestHost with a child-event eventfd, bumped after
// each event as the guestproc's host does.
type treeFDTestHost struct {
	*treeTestHost
	fd    int
	asked atomic.Int32
}

func newTreeFDTestEnv(t *testing.T) (*sigTestEnv, *treeFDTestHost) {
	e := newSigTestEnv(t)
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	h := &treeFDTestHost{treeTestHost: newTreeTestHost(), fd: fd}
	e.t.Proc.Kernel.Host = h
	return e, h
}

func (h *treeFDTestHost) ChildEventFD() int {
	h.asked.Add(1)
	return h.fd
}

func (h *treeFDTestHost) bump() {
	b := [8]byte{1}
	unix.Write(h.fd, b[:])
}

func (h *treeFDTestHost) childExits(r WaitResult) {
	h.treeTestHost.childExits(r)
	h.bump()
}

// A blocking wait4 waits on the child-event descriptor and returns the
// child once its event comes, not before; a count left from an earlier
// event is drained, not taken for news.
func TestBlockingWait4WaitsOnTheChildEventFD(t *testing.T) {
	e, h := newTreeFDTestEnv(t)
	h.bump() // stale
	var at atomic.Int64
	go func() {
		time.Sleep(30 * time.Millisecond)
		at.Store(time.Now().UnixNano())
		h.childExits(WaitResult{Pid: 9, Status: 0, Code: abi.CLD_EXITED})
	}()
	if rax := e.syscall(abi.SYS_WAIT4, 9, 0, 0, 0); rax != 9 {
		t.Fatalf("wait4 = %d, want 9", int64(rax))
	}
	if at.Load() == 0 {
		t.Fatal("wait4 returned before the child's event")
	}
	if h.asked.Load() == 0 {
		t.Error("the wait never asked for the child-event descriptor")
	}
	pfd := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 0 {
		t.Error("the child-event descriptor is left readable")
	}
}

// A wait longer than rawWaitSpan goes on as a channel wait and still
// returns the child.
func TestRawWait4OutlivesItsSpan(t *testing.T) {
	e, h := newTreeFDTestEnv(t)
	go func() {
		time.Sleep(rawWaitSpan + 50*time.Millisecond)
		h.treeTestHost.childExits(WaitResult{Pid: 5, Status: 0, Code: abi.CLD_EXITED}) // no bump
	}()
	if rax := e.syscall(abi.SYS_WAIT4, 5, 0, 0, 0); rax != 5 {
		t.Fatalf("wait4 = %d, want 5", int64(rax))
	}
}
