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

// awaitChildEvent returns once events is closed or sigs fires (the
// channels waitFor sampled), or spuriously: the caller looks again either
// way.
func (t *Task) awaitChildEvent(th TreeHost, events, sigs <-chan struct{}) {
	if f, ok := th.(childEventFDer); ok && !t.Proc.threaded() {
		if fd := f.ChildEventFD(); fd >= 0 && t.awaitChildEventRaw(fd, events, sigs) {
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
func (t *Task) awaitChildEventRaw(fd int, events, sigs <-chan struct{}) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	until := time.Now().Add(rawWaitSpan)
	var b [8]byte
	for {
		// Drained before the channels are looked at: an event after
		// this read makes fd readable again, one before it closed a
		// channel already.
		unix.Read(fd, b[:])
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
	}
}
