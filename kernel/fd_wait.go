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
// of wait below, so making them interruptible by guest signals is a change
// to this file only.
//
// Two pieces of other helpers' code plug in here, found by type assertion
// so that this file builds before and after they are merged:
//   - the signal code's (*Task).SignalPending decides whether a host EINTR
//     ends the wait (a guest signal is deliverable) or is retried (a Go
//     runtime signal);
//   - the interruptible-wait code's (*Task).hostWait runs a host call so
//     that queueing a guest signal kicks the thread out of it (SIGURG to the
//     OS thread). That only works for host calls the kernel never restarts
//     after a handler: ppoll and epoll_wait. A blocking read or write is
//     restarted transparently (Go's handlers are SA_RESTART), so waitIO
//     first waits for readiness with an interruptible ppoll. flock and
//     F_SETLKW have no readiness to wait for and stay uninterruptible.

// signalPender is the signal code's view of pending guest signals.
type signalPender interface {
	SignalPending() bool
}

// hostWaiter is the interruptible-wait code's host-call wrapper.
type hostWaiter interface {
	hostWait(fn func() error) (interrupted bool, err error)
}

// hostWaitInterrupted reports whether a host EINTR must end the current
// wait because a guest signal is deliverable to t.
func (t *Task) hostWaitInterrupted() bool {
	if p, ok := any(t).(signalPender); ok {
		return p.SignalPending()
	}
	return false
}

// interruptibleCall runs fn, a host call that returns EINTR when its
// thread gets a signal, so that a guest signal queued for t cuts it short
// (interrupted=true).
func (t *Task) interruptibleCall(fn func() error) (interrupted bool, err error) {
	if w, ok := any(t).(hostWaiter); ok {
		return w.hostWait(fn)
	}
	err = fn()
	return err == unix.EINTR && t.hostWaitInterrupted(), err
}

// ioWait is a readiness condition a transfer needs before it can run
// without blocking: events (POLLIN, POLLOUT) on f.
type ioWait struct {
	f      *HostFile
	events int16
}

// waitIO runs a data-transfer call (read, write, splice...). For each
// condition whose file may block, it first waits for readiness with
// waitReady, which a guest signal can interrupt (ERESTARTSYS, as Linux's
// pipe and tty waits return); the call itself is then expected not to
// block, and a host EINTR from it is retried unless a guest signal is
// deliverable.
func (t *Task) waitIO(op func() (int, error), waits ...ioWait) (int, error) {
	for {
		for _, w := range waits {
			if w.events != 0 && w.f.mayBlock() {
				if err := t.waitReady(w.f, w.events); err != nil {
					return 0, err
				}
			}
		}
		n, err := op()
		if err != unix.EINTR {
			return n, err
		}
		if t.hostWaitInterrupted() {
			return 0, abi.ERESTARTSYS
		}
	}
}

// waitReady returns once f is ready for events, at once if f is in
// non-blocking mode (the call then gets its EAGAIN), with ERESTARTSYS when
// a guest signal interrupts the wait, or with EAGAIN when a socket's own
// SO_RCVTIMEO/SO_SNDTIMEO passes first (what the call would have
// returned). Another reader of the same file can still take the data
// between the wait and the call, which then blocks uninterruptibly as
// before; that race is the price of not switching a shared open file
// description to non-blocking mode.
func (t *Task) waitReady(f *HostFile, events int16) error {
	pfd := []unix.PollFd{{Fd: int32(f.fd), Events: events}}
	if n, err := unix.Ppoll(pfd, &unix.Timespec{}, nil); err == nil && n > 0 {
		return nil
	}
	if fl, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		return nil
	}
	dl := deadline{forever: true}
	if f.waitKind() == kindSocket {
		dl = socketTimeout(f.fd, events)
	}
	rawUntil := time.Now().Add(rawWaitSpan) // fd_wait_raw.go
	for {
		var n int
		interrupted, err := t.interruptibleCall(func() (err error) {
			n, err = t.pollHost(pfd, dl, rawUntil)
			return err
		})
		switch {
		case interrupted:
			return abi.ERESTARTSYS
		case err == unix.EINTR:
			continue
		case err == nil && n == 0:
			return abi.EAGAIN
		}
		// Ready, or an error the call itself will report.
		return nil
	}
}

// socketTimeout returns the deadline a blocking socket call has from
// SO_RCVTIMEO (events POLLIN) or SO_SNDTIMEO; forever when unset.
func socketTimeout(fd int, events int16) deadline {
	opt := unix.SO_SNDTIMEO
	if events&unix.POLLIN != 0 {
		opt = unix.SO_RCVTIMEO
	}
	tv, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, opt)
	if err != nil || (tv.Sec == 0 && tv.Usec == 0) {
		return deadline{forever: true}
	}
	return deadlineAfter(time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond)
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
	rawUntil := time.Now().Add(rawWaitSpan) // fd_wait_raw.go
	for {
		var n int
		interrupted, err := t.interruptibleCall(func() (err error) {
			n, err = t.pollHost(fds, dl, rawUntil)
			return err
		})
		if interrupted {
			return 0, abi.EINTR
		}
		if err != unix.EINTR {
			return n, err
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
		var n int
		interrupted, err := t.interruptibleCall(func() (err error) {
			n, err = unix.EpollWait(epfd, events, msec)
			return err
		})
		if interrupted {
			return 0, abi.EINTR
		}
		if err != unix.EINTR {
			return n, err
		}
	}
}
