package kernel

// Signals a pseudo-terminal sends when a guest session took it as its
// controlling terminal (TIOCSCTTY, pty_ioctl.go). No host session owns
// such a terminal, so the host line discipline has no foreground group to
// signal: a VINTR, VQUIT or VSUSP character written to the leader (what
// `script` or expect do when ^C is typed) and a window size change reach
// nobody. The host still does the rest (the character is not read, the
// queues are flushed, ^C is echoed); the supervisor sends the signal to
// the guest foreground group it keeps for the terminal. Terminals no
// guest session took cost one cached fstat per written leader.

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// GuestTTYSignalHost is the part of a Host that sends a guest session's
// terminal signals. guestproc implements it.
type GuestTTYSignalHost interface {
	// GuestTTYSignal sends sig to the foreground group of the terminal
	// whose follower has device number dev, when a guest session owns
	// it. self: the caller is in that group and must queue sig itself.
	GuestTTYSignal(dev uint64, sig int32) (self bool, err error)
	// GuestTTYAccess applies job control to the caller's access to that
	// terminal, as TTYAccessHost.TTYAccess on elfuse's own: nothing
	// unless a guest session owns it and the caller is in that session
	// but not in its foreground group.
	GuestTTYAccess(dev uint64, sig int32, ignored bool) (self bool, err error)
}

// guestTTYAccess is the TTYAccessHost of a terminal a guest session may
// have taken (tty.go asks it when the terminal is not elfuse's).
type guestTTYAccess struct {
	h   GuestTTYSignalHost
	dev uint64
}

func (g guestTTYAccess) TTYAccess(sig int32, ignored bool) (bool, error) {
	return g.h.GuestTTYAccess(g.dev, sig, ignored)
}

// guestTTYAccessHost returns the TTYAccessHost for f when it is a
// pseudo-terminal follower (a terminal a guest session can take).
func (t *Task) guestTTYAccessHost(f *HostFile) (TTYAccessHost, bool) {
	gh, ok := t.Proc.Kernel.Host.(GuestTTYSignalHost)
	if !ok {
		return nil, false
	}
	dev, ok := f.ptsDev()
	if !ok {
		return nil, false
	}
	return guestTTYAccess{gh, dev}, true
}

// ptsDev returns the device number of h when it is a pseudo-terminal
// follower (cached in h.pts).
func (h *HostFile) ptsDev() (uint64, bool) {
	switch v := h.pts.Load(); v {
	case 0:
	case 1:
		return 0, false
	default:
		return v, true
	}
	dev, ok := ptyFollowerDev(h.fd)
	if !ok {
		h.pts.Store(1)
		return 0, false
	}
	h.pts.Store(dev)
	return dev, true
}

// ptmxMajor and ptmxMinor name /dev/ptmx (and every devpts ptmx).
const (
	ptmxMajor = 5
	ptmxMinor = 2
	// ptsMajor is the first Unix98 follower major; each holds 256 minors.
	ptsMajor = 136
)

// ptyFollower returns the device number of the follower when h is a
// pseudo-terminal leader (opened from a ptmx).
func (h *HostFile) ptyFollower() (uint64, bool) {
	switch v := h.ptm.Load(); v {
	case 0:
	case 1:
		return 0, false
	default:
		return v, true
	}
	var st unix.Stat_t
	if err := unix.Fstat(h.fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR ||
		unix.Major(st.Rdev) != ptmxMajor || unix.Minor(st.Rdev) != ptmxMinor {
		h.ptm.Store(1)
		return 0, false
	}
	n, err := unix.IoctlGetUint32(h.fd, unix.TIOCGPTN)
	if err != nil {
		h.ptm.Store(1)
		return 0, false
	}
	dev := unix.Mkdev(ptsMajor+n/256, n%256)
	h.ptm.Store(dev)
	return dev, true
}

// ptySignalHost returns the host that sends the signals of the terminal
// behind f, a leader or a follower, with the follower's device number.
func (t *Task) ptySignalHost(f *HostFile) (GuestTTYSignalHost, uint64, bool) {
	if t.Proc.Kernel == nil || !f.isTerminal() {
		return nil, 0, false
	}
	gh, ok := t.Proc.Kernel.Host.(GuestTTYSignalHost)
	if !ok {
		return nil, 0, false
	}
	if dev, ok := f.ptyFollower(); ok {
		return gh, dev, true
	}
	if dev, ok := f.ptsDev(); ok {
		return gh, dev, true
	}
	return nil, 0, false
}

// ptyInput sends the signals that the first n bytes of data, just written
// to f, generate when f is a pseudo-terminal leader whose follower has
// ISIG set: SIGINT for VINTR, SIGQUIT for VQUIT, SIGTSTP for VSUSP, each
// once per write, in the order typed. A character after VLNEXT (with
// IEXTEN) is taken literally, as by n_tty.
func (t *Task) ptyInput(f *HostFile, data [][]byte, n int) {
	if n <= 0 || t.Proc.Kernel == nil || !f.isTerminal() {
		return
	}
	dev, ok := f.ptyFollower()
	if !ok {
		return
	}
	gh, ok := t.Proc.Kernel.Host.(GuestTTYSignalHost)
	if !ok {
		return
	}
	tio, err := unix.IoctlGetTermios(f.FD(), unix.TCGETS) // the follower's, on Linux
	if err != nil || tio.Lflag&unix.ISIG == 0 {
		return
	}
	sigs := ttySignalsIn(tio, data, n)
	for _, sig := range sigs {
		t.ptySignal(gh, dev, sig)
	}
}

// ttySignalsIn lists the signals the special characters among the first
// n bytes of data generate under termios tio (ISIG set), without repeats.
func ttySignalsIn(tio *unix.Termios, data [][]byte, n int) []int32 {
	special := func(i int) byte {
		if c := tio.Cc[i]; c != 0 { // _POSIX_VDISABLE
			return c
		}
		return 0
	}
	intr, quit, susp := special(unix.VINTR), special(unix.VQUIT), special(unix.VSUSP)
	var lnext byte
	if tio.Lflag&unix.IEXTEN != 0 {
		lnext = special(unix.VLNEXT)
	}
	var sigs []int32
	add := func(sig int32) {
		for _, s := range sigs {
			if s == sig {
				return
			}
		}
		sigs = append(sigs, sig)
	}
	literal := false
	for _, b := range data {
		for _, c := range b {
			if n == 0 {
				return sigs
			}
			n--
			switch {
			case literal:
				literal = false
			case c == 0:
			case c == lnext:
				literal = true
			case c == intr:
				add(abi.SIGINT)
			case c == quit:
				add(abi.SIGQUIT)
			case c == susp:
				add(abi.SIGTSTP)
			}
		}
	}
	return sigs
}

// ptySignal has the supervisor send sig to the terminal's foreground
// group, queueing it here when the caller is in that group.
func (t *Task) ptySignal(gh GuestTTYSignalHost, dev uint64, sig int32) {
	self, err := gh.GuestTTYSignal(dev, sig)
	if err != nil {
		t.Log.Debug("terminal signal", "sig", sig, "error", err)
		return
	}
	if self {
		t.Proc.queueShared(t, &abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL})
	}
}

// setWinsize serves TIOCSWINSZ on f; a change of size on a terminal a
// guest session took sends SIGWINCH to its foreground group, as Linux's
// tty_do_resize (pty_resize for either side of a pseudo-terminal).
func (t *Task) setWinsize(f *HostFile, w *unix.Winsize) error {
	gh, dev, ok := t.ptySignalHost(f)
	var old *unix.Winsize
	if ok {
		old, _ = unix.IoctlGetWinsize(f.FD(), unix.TIOCGWINSZ)
	}
	if err := unix.IoctlSetWinsize(f.FD(), unix.TIOCSWINSZ, w); err != nil {
		return err
	}
	if ok && (old == nil || *old != *w) {
		t.ptySignal(gh, dev, abi.SIGWINCH)
	}
	return nil
}
