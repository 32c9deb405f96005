package kernel

import (
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Blocking host calls.
//
// Every syscall that can block for an unbounded time (read on a pipe, poll,
// epoll_wait, flock, F_SETLKW...) runs as a real host syscall on the
// calling vCPU's own OS thread, and goes through exactly one helper per kind
// of wait below. A host EINTR (a Go runtime signal, or a kick aimed at this
// thread) is retried unless a guest signal wants the syscall interrupted:
// that decision is hostWaitInterrupted, the single hook the signal code
// hooks into to make these waits interruptible, returning the restart errno
// the syscall's kind uses on Linux.

// hostWaitInterrupted reports whether a host EINTR must end the current
// wait because a guest signal is pending for t.
//
// Until the signal code delivers asynchronous guest signals (a later
// issue), nothing can be pending while a task is blocked in the host, so
// EINTR is always retried.
func (t *Task) hostWaitInterrupted() bool { return false }

// waitIO runs a data-transfer call (read, write, splice, sendfile...),
// restarting it after a host EINTR. Interrupted by a guest signal it
// returns ERESTARTSYS, as Linux's pipe and socket waits do.
func (t *Task) waitIO(op func() (int, error)) (int, error) {
	for {
		n, err := op()
		if err != unix.EINTR {
			return n, err
		}
		if t.hostWaitInterrupted() {
			return 0, abi.ERESTARTSYS
		}
	}
}

// waitLock runs a blocking lock call (flock, F_SETLKW, F_OFD_SETLKW).
func (t *Task) waitLock(op func() error) error {
	for {
		err := op()
		if err != unix.EINTR {
			return err
		}
		if t.hostWaitInterrupted() {
			return abi.ERESTARTSYS
		}
	}
}

// deadline is an absolute wait limit or "forever"; the zero value has
// already passed (poll without waiting).
type deadline struct {
	at      time.Time
	forever bool
}

// deadlineAfter returns a deadline d from now; negative d means forever.
func deadlineAfter(d time.Duration) deadline {
	if d < 0 {
		return deadline{forever: true}
	}
	return deadline{at: time.Now().Add(d)}
}

// remaining returns the time left (0 once passed).
func (d deadline) remaining() time.Duration {
	return max(time.Until(d.at), 0)
}

// waitPoll waits with the host's ppoll for the given host descriptors
// until one is ready or the deadline passes, restarting after a host EINTR
// with the time that remains. Interrupted by a guest signal it returns
// EINTR; callers that restart (poll, select) translate it.
func (t *Task) waitPoll(fds []unix.PollFd, dl deadline) (int, error) {
	for {
		var ts *unix.Timespec
		if !dl.forever {
			v := unix.NsecToTimespec(dl.remaining().Nanoseconds())
			ts = &v
		}
		n, err := unix.Ppoll(fds, ts, nil)
		if err != unix.EINTR {
			return n, err
		}
		if t.hostWaitInterrupted() {
			return 0, abi.EINTR
		}
	}
}

// waitEpoll waits on a host epoll descriptor until events arrive or the
// deadline passes, restarting after a host EINTR with the time that
// remains. Interrupted by a guest signal it returns EINTR, as Linux's
// epoll_wait does.
func (t *Task) waitEpoll(epfd int, events []unix.EpollEvent, dl deadline) (int, error) {
	for {
		msec := -1
		if !dl.forever {
			// Round up so a sub-millisecond remainder still waits.
			msec = int(min((dl.remaining()+time.Millisecond-1)/time.Millisecond, 1<<31-1))
		}
		n, err := unix.EpollWait(epfd, events, msec)
		if err != unix.EINTR {
			return n, err
		}
		if t.hostWaitInterrupted() {
			return 0, abi.EINTR
		}
	}
}
