package supervisor

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/elfuse/elfuse/ipc"
)

// settle waits for a message still in a guestproc's socket, and for one
// taken but not handled, to be handled; with nothing pending it returns
// at once.
func TestSettleWaitsForQueuedAndUnhandledMessages(t *testing.T) {
	mine, theirs, err := ipc.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	defer theirs.Close()
	g := &guestproc{guestprocHandle: &guestprocHandle{pid: 2, conn: mine}}
	mine.CountTakes(&g.received)
	defer func(d time.Duration) { settleMax = d }(settleMax)
	settleMax = time.Hour // the test's reader is slow on purpose
	if g.settle(time.Now().Add(settleMax)) {
		t.Fatal("settle waited with nothing pending")
	}
	if err := theirs.Send(ipc.MsgRequest, ipc.Request{Op: ipc.OpExeced}); err != nil {
		t.Fatal(err)
	}
	var handledAt atomic.Int64
	go func() {
		time.Sleep(5 * time.Millisecond)
		var raw ipc.Raw
		if _, _, err := mine.Recv(&raw); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(5 * time.Millisecond) // handling it
		handledAt.Store(time.Now().UnixNano())
		g.handled.Add(1)
	}()
	if !g.settle(time.Now().Add(settleMax)) {
		t.Fatal("settle did not wait for a queued message")
	}
	if handledAt.Load() == 0 {
		t.Fatal("settle returned before the message was handled")
	}
	if g.settle(time.Now().Add(settleMax)) {
		t.Fatal("settle waited again with nothing pending")
	}
}
