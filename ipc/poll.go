package ipc

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Why a Conn read by a goroutine of its own should use the poller.
//
// A goroutine blocked in recvmsg(2) holds an OS thread and, for a moment
// after every message, a P in the syscall state. In a process whose other
// threads also sit in system calls (a guestproc's vCPU thread in wait4 or
// KVM_RUN, the supervisor's readers of every guestproc), the runtime's
// sysmon then takes the P back from the syscall at its next tick and,
// having found work, polls again 20 µs later instead of backing off: on
// this kind of machine that was thousands of wake-ups a second per
// process, a fifth of all CPU time of a fork loop, plus thread hand-offs
// on every message. A Conn on the poller parks its reader in the netpoller
// instead; no thread or P waits for it.

// UsePoller puts the Conn in non-blocking mode on Go's netpoller: Recv and
// Send then park the calling goroutine instead of blocking its thread, and
// Close wakes a goroutine parked in Recv (it gets an error). Call it
// before the Conn is shared; only for Conns read by goroutines that are
// not locked to their thread (a locked thread is better off blocking in
// the syscall than handing its P around).
func (c *Conn) UsePoller() error {
	if c.rc != nil {
		return nil
	}
	if err := unix.SetNonblock(c.fd, true); err != nil {
		return fmt.Errorf("ipc: non-blocking socket: %w", err)
	}
	f := os.NewFile(uintptr(c.fd), "ipc")
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("ipc: poller: %w", err)
	}
	c.file, c.rc = f, rc
	return nil
}

// reading runs op on the descriptor, waiting for readability (on the
// poller) while it fails with EAGAIN. Without the poller op runs once on
// the blocking descriptor. EINTR is retried.
//
// ECONNRESET is retried once: a peer that closes with messages of ours
// unread leaves that error for our next receive, and Linux reports it
// before the messages the peer sent first (the socket error is checked
// ahead of the queue). Reading it clears it, so the retry gets those
// messages, then EOF. Without the retry a guestproc that ended with a
// SIGCHLD unread lost its Exited and was reported killed.
func (c *Conn) reading(op func(fd int) error) error {
	err := c.io(op, false)
	if err == unix.ECONNRESET {
		err = c.io(op, false)
	}
	return err
}

// writing is reading for writability.
func (c *Conn) writing(op func(fd int) error) error {
	return c.io(op, true)
}

func (c *Conn) io(op func(fd int) error, write bool) error {
	if c.rc == nil {
		for {
			if err := op(c.fd); err != unix.EINTR {
				return err
			}
		}
	}
	var opErr error
	f := func(fd uintptr) bool {
		for {
			opErr = op(int(fd))
			if opErr != unix.EINTR {
				return opErr != unix.EAGAIN
			}
		}
	}
	var err error
	if write {
		err = c.rc.Write(f)
	} else {
		err = c.rc.Read(f)
	}
	if err != nil {
		return err
	}
	return opErr
}

// closeConn closes the descriptor, through the os.File on the poller; a
// second call does nothing (the number may belong to another file by
// then).
func (c *Conn) closeConn() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.file != nil {
		return c.file.Close()
	}
	return unix.Close(c.fd)
}
