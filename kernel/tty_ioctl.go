package kernel

// Session ioctls on a terminal: TIOCGSID. On elfuse's own terminal the
// session is the supervisor's to tell (guest sessions exist only there);
// on another terminal the host's answer is mapped into guest pids.

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// TerminalSessionHost is the part of a Host that knows the session of
// elfuse's terminal in guest terms. guestproc implements it.
type TerminalSessionHost interface {
	// Tcgetsid returns the terminal's session as the caller sees it (0:
	// one outside the namespace), or ENOTTY when the terminal is not the
	// caller's controlling terminal.
	Tcgetsid() (int32, error)
}

// ttySid serves TIOCGSID on f.
func (t *Task) ttySid(f *HostFile, arg abi.Addr) (uint64, error) {
	if !f.isTerminal() {
		return 0, abi.ENOTTY
	}
	if th, ok := t.controllingTerminal(f.FD()); ok {
		sh, ok := th.(TerminalSessionHost)
		if !ok {
			return 0, abi.ENOTTY
		}
		return t.sessionIoctl(f, abi.TIOCGSID, arg, func() (uint64, error) {
			sid, err := sh.Tcgetsid()
			if err != nil {
				return 0, err
			}
			return 0, t.copyOutInt32(arg, sid)
		})
	}
	if v, ok, err := t.guestTTYIoctl(f, abi.TIOCGSID, arg); ok {
		return v, err // pty_ioctl.go
	}
	// Neither elfuse's terminal nor a guest pseudo-terminal (whose
	// leader side guestTTYIoctl answers for): Linux answers ENOTTY
	// unless f is a pty leader, whose follower's session it reports; the
	// host does the same in host pids.
	hs, err := unix.IoctlGetInt(f.FD(), unix.TIOCGSID)
	if err != nil {
		return 0, err
	}
	return 0, t.copyOutInt32(arg, t.guestPidOfHost(int32(hs)))
}

// guestPidOfHost maps host pid hp to the guest pid of the process it
// serves: 0 for one outside the guest's namespace, as Linux's pid_vnr.
func (t *Task) guestPidOfHost(hp int32) int32 {
	if t.Proc.Kernel == nil {
		return 0
	}
	pm, ok := t.Proc.Kernel.Host.(PidMapper)
	if !ok {
		return 0
	}
	p, err := pm.PidOfHost(hp)
	if err != nil {
		return 0
	}
	return p
}

// TerminalDetachHost is the part of a Host that gives up elfuse's
// terminal for the caller (TIOCNOTTY). guestproc implements it.
type TerminalDetachHost interface {
	// TTYDetach tells the supervisor (ENOTTY: not the caller's
	// controlling terminal); self: the caller must queue SIGHUP and
	// SIGCONT itself.
	TTYDetach() (self bool, err error)
}

// ttyNotty serves TIOCNOTTY on f: the caller gives up its controlling
// terminal. The supervisor forgets it in guest terms (for a session
// leader: for the whole session, signalling the foreground group); the
// guestproc drops its host controlling terminal, so the host stops
// treating it as one (host job control, /dev/tty, the TIOCGSID check of
// controllingTerminal).
func (t *Task) ttyNotty(f *HostFile) (uint64, error) {
	if !f.isTerminal() {
		return 0, abi.ENOTTY
	}
	th, ok := t.controllingTerminal(f.FD())
	if !ok {
		return 0, abi.ENOTTY
	}
	self := false
	if dh, ok := th.(TerminalDetachHost); ok {
		s, err := dh.TTYDetach()
		if err != nil {
			return 0, err
		}
		self = s
	}
	// A guestproc never leads its host session; were it to, the host
	// would hang up elfuse's own foreground group.
	if sid, err := unix.Getsid(0); err == nil && sid != unix.Getpid() {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(f.FD()), unix.TIOCNOTTY, 0); errno != 0 {
			t.Log.Debug("host TIOCNOTTY failed", "error", errno)
		}
	}
	if self {
		for _, sig := range []int32{abi.SIGHUP, abi.SIGCONT} {
			if err := t.Proc.queueShared(t, &abi.Siginfo{Signo: sig, Code: abi.SI_KERNEL}); err != nil {
				return 0, err
			}
		}
	}
	return 0, nil
}
