package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// A wait4 that blocks waits for a child event. As a Go channel receive on
// the task's locked thread, the event's arrival (on the guestproc's reader
// goroutine) hands the P over to the locked thread: two futex calls and two
// context switches, ~100 µs between the event and the wait's return on a
// PVM host, in every command a shell runs. A host that also makes a
// descriptor readable at each child event (childEventFDer) lets the wait
// be a raw ppoll on it instead, for its first rawWaitSpan (as the guest's
// own waits, fd_wait_raw.go): the host kernel wakes this thread directly.

// childEventFDer is a TreeHost whose child events also make a descriptor
// readable (an eventfd the waiter drains).
type childEventFDer interface {
	ChildEventFD() int
}

// childReporter is a childEventFDer whose children also report their
// own exits on descriptors of their own. The raw wait polls those too and,
// woken by one, has the host take the reports ready (as child events, which
// close the events channel): one wake-up from the child's exit to the
// wait's return, not one of a reader goroutine and then this thread.
type childReporter interface {
	// ChildReportFDs appends the descriptors to poll to fds.
	ChildReportFDs(fds []unix.PollFd) []unix.PollFd
	// TakeChildReports takes the reports ready, without blocking.
	TakeChildReports()
}

// awaitChildEvent returns once events is closed or sigs fires (the
// channels waitFor sampled), or spuriously: the caller looks again either
// way.
func (t *Task) awaitChildEvent(th TreeHost, events, sigs <-chan struct{}) {
	if f, ok := th.(childEventFDer); ok && !t.Proc.threaded() {
		if fd := f.ChildEventFD(); fd >= 0 && t.awaitChildEventRaw(th, fd, events, sigs) {
			return
		}
	}
	select {
	case <-events:
	case <-sigs:
	}
}

// awaitChildEventRaw is awaitChildEvent's raw wait on fd. It reports false
// when its span ended or a guest signal cut it short without news on the
// channels (the caller then blocks on them).
func (t *Task) awaitChildEventRaw(th TreeHost, fd int, events, sigs <-chan struct{}) bool {
	var buf [8]unix.PollFd
	pfd := append(buf[:0], unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	reporter, _ := th.(childReporter)
	if reporter != nil {
		pfd = reporter.ChildReportFDs(pfd)
	}
	until := time.Now().Add(rawWaitSpan)
	var b [8]byte
	for {
		// Drained before the channels are looked at: an event after
		// this read makes fd readable again, one before it closed a
		// channel already.
		unix.Read(fd, b[:])
		if len(pfd) > 1 {
			reporter.TakeChildReports()
		}
		select {
		case <-events:
			return true
		case <-sigs:
			return true
		default:
		}
		span := time.Until(until)
		if span <= 0 {
			return false
		}
		ts := unix.NsecToTimespec(span.Nanoseconds())
		interrupted, _ := t.interruptibleCall(func() error {
			_, err := rawPpoll(pfd, &ts)
			return err
		})
		if interrupted {
			return false // sigs is closed, or closes: the caller's select sees it
		}
		for i := 1; i < len(pfd); i++ {
			// A child's socket carries one report: once it fired it
			// is polled no more (the report is taken above; one that
			// hung up, or whose number went to another file, would
			// only fire again and again).
			if pfd[i].Revents != 0 {
				pfd[i].Fd = -1
			}
		}
	}
}
