package kernel

// /dev/tty is the caller's controlling terminal, which only the whole tree
// knows: a guestproc stays in elfuse's host session whatever the guest
// does, so the host's /dev/tty is elfuse's terminal even for a guest
// process that left its session by setsid, and never a terminal a guest
// session took (TIOCSCTTY). Opening it asks the host which terminal the
// caller's session has: elfuse's (the host's /dev/tty, which fails with
// ENXIO by itself when elfuse runs without one), a pseudo-terminal
// follower (opened by its /dev/pts name), or none (ENXIO), as Linux's
// tty_open_current_tty. Stat and other path calls still see the host node.

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// devTTY is the guest path of the controlling terminal.
const devTTY = "/dev/tty"

// CttyHost is the part of a Host that knows the caller's controlling
// terminal in guest terms. guestproc implements it; without it /dev/tty
// is the host's.
type CttyHost interface {
	// Ctty reports the caller's controlling terminal: elfuse's own (own),
	// the pseudo-terminal follower with device number dev its session
	// took, or none (both zero).
	Ctty() (own bool, dev uint64, err error)
}

// ptsPath names the Unix98 pseudo-terminal follower with device number
// dev (majors 136-143 hold 256 minors each), ok=false for another device.
func ptsPath(dev uint64) (string, bool) {
	major, minor := unix.Major(dev), unix.Minor(dev)
	if major < 136 || major > 143 {
		return "", false
	}
	return "/dev/pts/" + strconv.FormatUint(uint64((major-136)*256+minor), 10), true
}

// openDevTTY opens /dev/tty for the guest with open flags how.
func (t *Task) openDevTTY(how unix.OpenHow) (int, error) {
	host := "/dev/tty"
	if t.Proc.Kernel != nil {
		if ch, ok := t.Proc.Kernel.Host.(CttyHost); ok {
			own, dev, err := ch.Ctty()
			if err != nil {
				return -1, err
			}
			if !own {
				p, ok := ptsPath(dev)
				if !ok {
					return -1, abi.ENXIO
				}
				host = p
				how.Flags |= unix.O_NOCTTY
			}
		}
	}
	how.Flags |= unix.O_CLOEXEC
	how.Resolve = 0
	return unix.Openat2(unix.AT_FDCWD, host, &how)
}
