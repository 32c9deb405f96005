package kernel

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// ioctl(2) passes through to the host descriptor only for a known-safe list
// of requests whose argument elfuse copies with the right size; anything
// else could have the host kernel read or write host memory at a guest
// address, so it is refused with ENOTTY (logged once per request).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_IOCTL: {Name: "ioctl", Fn: Ioctl, Support: Partial,
			Note: "terminal (TCGETS, TCSETS*, TIOC[GS]WINSZ, TIOC[GS]PGRP, TIOCGSID, TIOCNOTTY, TCFLSH, TCXONC, TCSBRK, TIOCOUTQ), pty leader (TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER) FIONREAD, FIONBIO, FIOCLEX, FIONCLEX and on sockets SIOCGIF* and SIOCSIFFLAGS, SIOCSIFMTU; others ENOTTY. On the controlling terminal TIOC[GS]PGRP use guest process groups (the supervisor keeps the foreground group); TIOCSCTTY only on a pty follower, kept in guest terms (no host job control on it)"},
	})
}

var unknownIoctlLogged sync.Map // request → struct{}

// copyInInt32 reads a guest int.
func (t *Task) copyInInt32(addr abi.Addr) (int32, error) {
	var b [4]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

// copyOutInt32 writes a guest int.
func (t *Task) copyOutInt32(addr abi.Addr, v int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Ioctl implements Linux syscall ioctl(2).
func Ioctl(t *Task, a *Args) (uint64, error) {
	fd, req, arg := a.Int(0), a.Uint(1), a.Addr(2)
	switch req {
	case abi.FIOCLEX:
		return 0, t.Proc.FDs.SetCloexec(fd, true)
	case abi.FIONCLEX:
		return 0, t.Proc.FDs.SetCloexec(fd, false)
	}
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return 0, err
	}
	defer f.Release()
	h := f.FD()
	switch req {
	case abi.TCSETS, abi.TCSETSW, abi.TCSETSF, abi.TIOCSPGRP, abi.TCFLSH, abi.TCXONC, abi.TCSBRK:
		// Changing the terminal from a background group: SIGTTOU
		// (tty_check_change in set_termios, tiocspgrp, the flow and
		// flush helpers and tcdrain's TCSBRK).
		if err := t.ttyCheck(f, abi.SIGTTOU); err != nil {
			if err == abi.EIO && req == abi.TIOCSPGRP {
				return 0, abi.ENOTTY // as Linux's tiocspgrp
			}
			return 0, err
		}
	}
	switch req {
	case abi.TCGETS:
		ht, err := unix.IoctlGetTermios(h, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		tio := abi.Termios{Iflag: ht.Iflag, Oflag: ht.Oflag, Cflag: ht.Cflag, Lflag: ht.Lflag, Line: ht.Line, CC: ht.Cc}
		var b [abi.SizeofTermios]byte
		tio.MarshalBytes(b[:])
		_, err = t.CopyOut(arg, b[:])
		return 0, err
	case abi.TCSETS, abi.TCSETSW, abi.TCSETSF:
		var b [abi.SizeofTermios]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		var tio abi.Termios
		tio.UnmarshalBytes(b[:])
		ht := unix.Termios{Iflag: tio.Iflag, Oflag: tio.Oflag, Cflag: tio.Cflag, Lflag: tio.Lflag, Line: tio.Line, Cc: tio.CC}
		return 0, unix.IoctlSetTermios(h, uint(req), &ht)
	case abi.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(h, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		w := abi.Winsize{Row: ws.Row, Col: ws.Col, Xpixel: ws.Xpixel, Ypixel: ws.Ypixel}
		var b [abi.SizeofWinsize]byte
		w.MarshalBytes(b[:])
		_, err = t.CopyOut(arg, b[:])
		return 0, err
	case abi.TIOCSWINSZ:
		var b [abi.SizeofWinsize]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		var w abi.Winsize
		w.UnmarshalBytes(b[:])
		return 0, t.setWinsize(f, &unix.Winsize{Row: w.Row, Col: w.Col, Xpixel: w.Xpixel, Ypixel: w.Ypixel}) // pty_signal.go
	case abi.TIOCGPGRP, abi.TIOCSPGRP:
		if th, ok := t.controllingTerminal(h); ok {
			return t.sessionIoctl(f, req, arg, func() (uint64, error) { return t.ttyPgrp(th, req, arg) }) // pty_ioctl.go, jobctl_tty.go
		}
		if v, ok, err := t.guestTTYIoctl(f, req, arg); ok {
			return v, err
		}
	case abi.TIOCGSID:
		return t.ttySid(f, arg) // tty_ioctl.go
	case abi.TIOCSCTTY:
		return t.ttySctty(f, arg) // pty_ioctl.go
	case abi.TIOCNOTTY:
		return t.ttyNotty(f) // tty_ioctl.go
	}
	switch req {
	case abi.TIOCGPGRP, abi.FIONREAD, abi.TIOCOUTQ:
		v, err := unix.IoctlGetInt(h, uint(req))
		if err != nil {
			return 0, err
		}
		return 0, t.copyOutInt32(arg, int32(v))
	case abi.TIOCSPGRP, abi.FIONBIO:
		v, err := t.copyInInt32(arg)
		if err != nil {
			return 0, err
		}
		return 0, unix.IoctlSetPointerInt(h, uint(req), int(v))
	case abi.TIOCGPTN:
		v, err := unix.IoctlGetUint32(h, unix.TIOCGPTN)
		if err != nil {
			return 0, err
		}
		return 0, t.copyOutInt32(arg, int32(v))
	case abi.TIOCSPTLCK:
		v, err := t.copyInInt32(arg)
		if err != nil {
			return 0, err
		}
		return 0, unix.IoctlSetPointerInt(h, unix.TIOCSPTLCK, int(v))
	case abi.TIOCGPTPEER:
		// Opens the follower side: a new descriptor for the guest.
		flags := uint64(uint32(arg))
		peer, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(h), unix.TIOCGPTPEER, uintptr(flags|unix.O_CLOEXEC))
		if errno != 0 {
			return 0, errno
		}
		return t.installHost(int(peer), flags&abi.O_CLOEXEC != 0)
	case abi.TCFLSH, abi.TCXONC, abi.TCSBRK:
		// The argument is a plain int, not a pointer.
		return 0, unix.IoctlSetInt(h, uint(req), int(int32(arg)))
	}
	if v, ok, err := t.socketIoctl(f, req, arg); ok {
		return v, err
	}
	if v, ok, err := t.nsfsIoctl(h, req, arg); ok { // sys_ioctl_nsfs.go
		return v, err
	}
	if _, seen := unknownIoctlLogged.LoadOrStore(req, struct{}{}); !seen {
		t.Log.Info("ioctl request not supported, returning ENOTTY", "request", fmt.Sprintf("%#x", req), "fd", fd)
	}
	return 0, abi.ENOTTY
}
