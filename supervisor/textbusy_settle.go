package supervisor

import (
	"time"

	"golang.org/x/sys/unix"
)

// A process tells the supervisor the files of its new image in a one-way
// message (OpExeced, OpImage) before its first instruction runs, and the
// supervisor reads each guestproc's socket on a goroutine of its own. So
// when a process execs a program, tells another one so (a pipe) and that
// one opens the program for writing, the writer's OpTextBusy can be
// answered before the exec's message, still in the other socket or being
// handled, was seen: the open succeeded where Linux says ETXTBSY (a CI
// run of tests/testdata/textbusy.c saw it). Before a "not busy", the
// supervisor therefore waits until every other guestproc's reader has
// handled what its socket held: whatever was sent before the writer's
// request. The question is asked only for existing executable files
// opened for writing (kernel/textbusy.go), so the wait is rare.

// settleMax bounds the whole wait: a reader blocked on something of its
// own must not hold a writer forever (the answer then goes as it is).
var settleMax = 50 * time.Millisecond

// settleReaders waits until the reader of every guestproc but asker has
// handled every message its socket held when the wait began, and reports
// whether any had something to handle (the answer may have changed).
func (s *supervisor) settleReaders(asker *guestproc) bool {
	s.mu.Lock()
	gps := make([]*guestproc, 0, len(s.gps))
	for _, g := range s.gps {
		if g != asker {
			gps = append(gps, g)
		}
	}
	s.mu.Unlock()
	waited := false
	deadline := time.Now().Add(settleMax)
	for _, g := range gps {
		if g.settle(deadline) {
			waited = true
		}
	}
	return waited
}

// settle waits until g's socket is empty and every message taken from it
// is handled, or the deadline passed; it reports whether it had to wait.
func (g *guestproc) settle(deadline time.Time) bool {
	for i := 0; ; i++ {
		// In this order: the socket empty, then handled, then received.
		// Every message taken before the socket was seen empty is in
		// received (the Conn counts a message before it takes it), and
		// handled equal to received read after it means all are handled.
		queued, err := unix.IoctlGetInt(g.conn.FD(), unix.SIOCINQ)
		h := g.handled.Load()
		done := h == g.received.Load()
		if err != nil || (queued == 0 && done) || time.Now().After(deadline) {
			return i > 0
		}
		time.Sleep(20 * time.Microsecond)
	}
}
