package kernel

// Hangup of a pseudo-terminal a guest session took (pty_ioctl.go): when
// the last descriptor of its leader side closes (`script` ends, expect
// gives up), Linux hangs the follower up and sends SIGHUP and SIGCONT to
// the session leader (tty_signal_session_leader), which passes the news
// to its jobs (bash sends them SIGHUP). The host does the hang-up, but no
// host session owns the terminal, so nobody got the signals. The leader's
// guestproc keeps a duplicate of the follower while the leader lives and
// waits for its POLLHUP (TTY_OTHER_CLOSED) on a goroutine of its own.

import (
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// hangupWatch waits for the hang-up of one terminal.
type hangupWatch struct {
	fd   int    // the follower's duplicate
	wake [2]int // a pipe whose closing ends the wait early
}

// watchHangup starts watching follower f, which the calling session
// leader has just taken as its controlling terminal; a watch of an
// earlier terminal ends.
func (t *Task) watchHangup(f *HostFile) {
	dup, err := unix.FcntlInt(uintptr(f.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Log.Debug("terminal hang-up not watched", "error", err)
		return
	}
	w := &hangupWatch{fd: dup}
	if err := unix.Pipe2(w.wake[:], unix.O_CLOEXEC); err != nil {
		unix.Close(dup)
		t.Log.Debug("terminal hang-up not watched", "error", err)
		return
	}
	p := t.Proc
	p.mu.Lock()
	old := p.hangup
	p.hangup = w
	p.mu.Unlock()
	old.stop()
	go w.run(p)
}

// run waits for the hang-up (POLLHUP: no events asked, so typed input
// never wakes it) or the end of the watch, and on a hang-up sends the
// leader SIGHUP and SIGCONT, as from the kernel.
func (w *hangupWatch) run(p *Process) {
	defer unix.Close(w.wake[0])
	defer unix.Close(w.fd)
	fds := []unix.PollFd{{Fd: int32(w.fd)}, {Fd: int32(w.wake[0]), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || fds[1].Revents != 0 || fds[0].Revents&unix.POLLHUP == 0 {
			return
		}
		break
	}
	p.mu.Lock()
	mine := p.hangup == w
	if mine {
		p.hangup = nil
	}
	p.mu.Unlock()
	if !mine {
		return // replaced or stopped meanwhile
	}
	unix.Close(w.wake[1])
	for _, sig := range []int32{abi.SIGHUP, abi.SIGCONT} {
		p.SignalFrom(&abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL}, false)
	}
}

// stop ends the watch (nil: none).
func (w *hangupWatch) stop() {
	if w != nil {
		unix.Close(w.wake[1])
	}
}

// stopHangupWatch ends the process's watch: the leader is gone, and with
// it the session's hold on the terminal.
func (p *Process) stopHangupWatch() {
	p.mu.Lock()
	w := p.hangup
	p.hangup = nil
	p.mu.Unlock()
	w.stop()
}
