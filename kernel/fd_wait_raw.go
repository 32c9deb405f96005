package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// Why a guest's short waits are raw system calls.
//
// A guest's poll, select or blocking read waits in the host's ppoll. Made
// as a Go system call, a wait longer than 10 ms (make's pselect while its
// compilers run, a shell's read of a command substitution) has sysmon take
// the thread's P away, which sends sysmon back to its 20 µs period: ~60
// nanosleeps and twice as many context switches per wait. make's guestproc
// made 2 000-3 000 of them per make -j2 of the bench project.
//
// Made raw, the wait keeps its P and sysmon has nothing to take. ppoll
// ends with EINTR at any signal (it is never restarted), so the runtime's
// preemption signal still stops the goroutine when it must (a
// stop-the-world, a stack scan): the wait loops of fd_wait.go retry after
// an EINTR and pass a preemption point on the way. Each such preemption
// (sysmon's, every 10 ms) costs a few context switches, so only the first
// rawWaitSpan of a wait is raw: a long wait (an idle shell at its prompt)
// goes on as a Go system call, which costs nothing while it lasts. Only a
// process with one thread waits raw: several threads each holding a P
// could leave none for the guestproc's other goroutines.

// rawWaitSpan is how long a wait stays raw.
const rawWaitSpan = 100 * time.Millisecond

// pollHost is ppoll(fds) until dl, raw until rawUntil (see above). It
// returns 0 only when dl has passed.
func (t *Task) pollHost(fds []unix.PollFd, dl deadline, rawUntil time.Time) (int, error) {
	if !t.Proc.threaded() {
		if span := time.Until(rawUntil); span > 0 {
			whole := !dl.forever && dl.remaining() <= span
			if whole {
				span = dl.remaining()
			}
			ts := unix.NsecToTimespec(span.Nanoseconds())
			n, err := rawPpoll(fds, &ts)
			if err != nil || n > 0 || whole {
				return n, err
			}
			// The raw span ended before the wait: on as below.
		}
	}
	var ts *unix.Timespec
	if !dl.forever {
		v := unix.NsecToTimespec(dl.remaining().Nanoseconds())
		ts = &v
	}
	return unix.Ppoll(fds, ts, nil)
}

// awaitHangup waits until fd, the read end of a pipe, is readable: a byte,
// or EOF once every writer closed it (a vfork child that exec'd or ended
// closes the last one). Signals do not end the wait, as they do not end a
// vfork parent's on Linux. Raw for its first rawWaitSpan like the guest's
// waits: a child's start and exec often take more than 10 ms here.
func (t *Task) awaitHangup(fd int) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	rawUntil := time.Now().Add(rawWaitSpan)
	for {
		n, err := t.pollHost(pfd, deadline{forever: true}, rawUntil)
		if n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}
