package supervisor

// Stubs: host processes that hold a guestproc's guest memory (the ptrace
// backend's stub; ipc/stub.go). A killed guestproc's stubs die after it,
// killed by ptrace's exit-kill, and a shared writable mapping of a file
// they hold keeps execve of that file failing with ETXTBSY until then; the
// same goes for the guestproc's own threads, which drop their mappings and
// descriptors in no fixed order as they die. The death of a guestproc that
// ended without Exited is therefore told only once it is reaped and its
// stubs are gone, as Linux releases a process's memory before its parent
// hears (exit_mm before exit_notify).

import (
	"golang.org/x/sys/unix"
)

// stubSet holds pidfds of the stubs a guestproc started. It lives with the
// host process, across the guest processes a recycled guestproc runs.
type stubSet struct {
	fds []int
}

// keep records pidfd, closing those of stubs that ended (an exec's old
// stub, reaped by the guestproc itself).
func (st *stubSet) keep(pidfd int) {
	live := st.fds[:0]
	for _, fd := range st.fds {
		if ended(fd, 0) {
			unix.Close(fd)
		} else {
			live = append(live, fd)
		}
	}
	st.fds = append(live, pidfd)
}

// ended reports whether the process of pidfd has ended, waiting up to
// timeout milliseconds (-1: until it has).
func ended(pidfd, timeout int) bool {
	pfd := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, timeout)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// killAndWait kills every stub (their guestproc is dead, so they are
// doomed anyway) and waits until each has ended.
func (st *stubSet) killAndWait() {
	for _, fd := range st.fds {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
	for _, fd := range st.fds {
		ended(fd, -1)
	}
	st.close()
}

// close forgets the stubs.
func (st *stubSet) close() {
	for _, fd := range st.fds {
		unix.Close(fd)
	}
	st.fds = nil
}

// awaitEnd makes sure h's guestproc, which ended without Exited, is gone
// for good: it kills it (a guestproc that closed its socket still running
// would be a fault of its own), reaps it and waits for its stubs.
func (h *guestprocHandle) awaitEnd() error {
	h.cmd.Process.Kill()
	err := h.cmd.Wait()
	h.waited = true
	h.stubs.killAndWait()
	return err
}
