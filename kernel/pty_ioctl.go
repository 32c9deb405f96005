package kernel

// Controlling terminals a guest session takes itself: TIOCSCTTY on a
// pseudo-terminal follower the guest opened (script, expect), and then
// TIOCGPGRP, TIOCSPGRP and TIOCGSID on it. The guestproc is no host
// session leader, so the host cannot make the terminal its own; the
// supervisor keeps it in guest terms (GuestTTYHost). Only a follower
// (Unix98 major 136-143) is looked up there, so other terminals and
// elfuse's own stay as fast as before.

import (
	"errors"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// GuestTTYHost is the part of a Host that keeps the terminals guest
// sessions take. guestproc implements it.
type GuestTTYHost interface {
	// GuestTTY serves op (ipc.GuestTTY*: 0 take, 1 get the foreground
	// group, 2 set it to pgid, 3 get the session) on the pseudo-terminal
	// follower with device number dev; steal takes it from another
	// session, and for 1 and 3 says the leader side asks, which answers
	// any caller. ENOTTY: it is not the caller's controlling terminal.
	GuestTTY(op int32, dev uint64, pgid int32, steal bool) (int32, error)
}

// The GuestTTY operations (ipc.GuestTTY*).
const (
	guestTTYTake    = 0
	guestTTYGetpgrp = 1
	guestTTYSetpgrp = 2
	guestTTYGetsid  = 3
)

// ptyFollowerDev returns the device number of host descriptor h when it
// is a pseudo-terminal follower.
func ptyFollowerDev(h int) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return 0, false
	}
	if m := unix.Major(st.Rdev); m < 136 || m > 143 {
		return 0, false
	}
	return st.Rdev, true
}

// guestTTYIoctl serves TIOCSCTTY, TIOC[GS]PGRP and TIOCGSID on f when f
// is a pseudo-terminal follower and the host keeps guest terminals
// (handled); otherwise the caller answers.
func (t *Task) guestTTYIoctl(f *HostFile, req uint32, arg abi.Addr) (v uint64, handled bool, err error) {
	if t.Proc.Kernel == nil || !f.isTerminal() {
		return 0, false, nil
	}
	gh, ok := t.Proc.Kernel.Host.(GuestTTYHost)
	if !ok {
		return 0, false, nil
	}
	if dev, ok := f.ptyFollower(); ok && (req == abi.TIOCGPGRP || req == abi.TIOCGSID) {
		// The leader side answers for its follower, to any caller.
		op := int32(guestTTYGetpgrp)
		if req == abi.TIOCGSID {
			op = guestTTYGetsid
		}
		id, err := gh.GuestTTY(op, dev, 0, true)
		if err != nil {
			return 0, true, err
		}
		return 0, true, t.copyOutInt32(arg, id)
	}
	dev, ok := ptyFollowerDev(f.FD())
	if !ok {
		return 0, false, nil
	}
	switch req {
	case abi.TIOCSCTTY:
		steal := uint64(arg) == 1 && t.Proc.Creds().EUID == 0
		if _, err := gh.GuestTTY(guestTTYTake, dev, 0, steal); err != nil {
			return 0, true, err
		}
		t.watchHangup(f) // pty_hangup.go
		return 0, true, nil
	case abi.TIOCGPGRP, abi.TIOCGSID:
		op := int32(guestTTYGetpgrp)
		if req == abi.TIOCGSID {
			op = guestTTYGetsid
		}
		id, err := gh.GuestTTY(op, dev, 0, false)
		if err != nil {
			return 0, true, err
		}
		return 0, true, t.copyOutInt32(arg, id)
	case abi.TIOCSPGRP:
		pg, err := t.copyInInt32(arg)
		if err != nil {
			return 0, true, err
		}
		_, err = gh.GuestTTY(guestTTYSetpgrp, dev, pg, false)
		return 0, true, err
	}
	return 0, false, nil
}

// sessionIoctl serves TIOC[GS]PGRP and TIOCGSID on elfuse's terminal
// through th (fn) and, when the supervisor says it is not the caller's
// controlling terminal, asks whether the caller's session took it itself.
func (t *Task) sessionIoctl(f *HostFile, req uint32, arg abi.Addr, fn func() (uint64, error)) (uint64, error) {
	v, err := fn()
	if !errors.Is(err, abi.ENOTTY) {
		return v, err
	}
	if v, ok, err := t.guestTTYIoctl(f, req, arg); ok {
		return v, err
	}
	return 0, abi.ENOTTY
}

// ttySctty serves TIOCSCTTY: only a pseudo-terminal follower can become
// a guest session's controlling terminal.
func (t *Task) ttySctty(f *HostFile, arg abi.Addr) (uint64, error) {
	if !f.isTerminal() {
		return 0, abi.ENOTTY
	}
	if v, ok, err := t.guestTTYIoctl(f, abi.TIOCSCTTY, arg); ok {
		return v, err
	}
	return 0, abi.EPERM
}
