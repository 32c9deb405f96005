package kernel

import (
	"encoding/binary"
	"fmt"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// signalfd descriptors.
//
// The guest's descriptor is a host eventfd that stands for readiness: the
// kernel keeps it readable exactly while a signal of the descriptor's mask
// is pending for the process, so poll, select and epoll on it work through
// the ordinary host descriptor code. read(2) on it is the kernel's own: it
// dequeues pending signals of the mask as signalfd_siginfo records (see
// rwBuf's hook), as Linux's signalfd_read does.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_SIGNALFD:  {Name: "signalfd", Fn: withSignals(Signalfd)},
		abi.SYS_SIGNALFD4: {Name: "signalfd4", Fn: withSignals(Signalfd4)},
	})
}

// signalFD is the state of one signalfd file (shared by dup'ed numbers).
type signalFD struct {
	// mask is the set of signals the descriptor reports; guarded by the
	// process's Signals.mu.
	mask abi.SigSet
	// efd is the kernel's own descriptor of the eventfd (the guest's may
	// be closed under it); file is the guest-visible one, whose last
	// close retires the signalfd. The kernel reads efd only while the
	// counter is non-zero, so the shared O_NONBLOCK flag (the guest's)
	// never makes it wait.
	efd  int
	file *HostFile
	// ready mirrors whether the eventfd's counter is non-zero.
	ready bool
}

// Signalfd implements Linux syscall signalfd(2) (signalfd4 without flags).
func Signalfd(t *Task, a *Args) (uint64, error) {
	return t.signalfd(a.Int(0), a.Addr(1), a[2], 0)
}

// Signalfd4 implements Linux syscall signalfd4(2).
func Signalfd4(t *Task, a *Args) (uint64, error) {
	return t.signalfd(a.Int(0), a.Addr(1), a[2], a.Int(3))
}

func (t *Task) signalfd(fd int32, maskAddr abi.Addr, size uint64, flags int32) (uint64, error) {
	if flags&^(abi.SFD_NONBLOCK|abi.SFD_CLOEXEC) != 0 || size != abi.SignalSetSize {
		return 0, abi.EINVAL
	}
	mask, err := t.copyInSigset(maskAddr)
	if err != nil {
		return 0, err
	}
	mask &^= abi.UnblockableSignals
	s := t.Proc.Signals
	if fd != -1 {
		f, err := t.Proc.FDs.Acquire(fd)
		if err != nil {
			return 0, err
		}
		defer f.Release()
		if f.sigfd == nil {
			return 0, abi.EINVAL
		}
		s.mu.Lock()
		f.sigfd.mask = mask
		s.refreshSignalfdsLocked()
		s.mu.Unlock()
		return uint64(fd), nil
	}
	sfd, err := newSignalFD(mask, flags&abi.SFD_NONBLOCK != 0)
	if err != nil {
		return 0, err
	}
	gfd, err := t.Proc.FDs.installFile(sfd.file, flags&abi.SFD_CLOEXEC != 0, 0)
	if err != nil {
		unix.Close(sfd.efd)
		sfd.file.put()
		return 0, err
	}
	s.mu.Lock()
	s.sigfds = append(s.sigfds, sfd)
	s.refreshSignalfdsLocked()
	s.mu.Unlock()
	return uint64(gfd), nil
}

// newSignalFD makes the eventfd pair of a signalfd with the given mask.
func newSignalFD(mask abi.SigSet, nonblock bool) (*signalFD, error) {
	fl := unix.EFD_CLOEXEC
	if nonblock {
		fl |= unix.EFD_NONBLOCK
	}
	hfd, err := unix.Eventfd(0, fl)
	if err != nil {
		return nil, err
	}
	efd, err := unix.FcntlInt(uintptr(hfd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		unix.Close(hfd)
		return nil, err
	}
	sfd := &signalFD{mask: mask, efd: efd, file: newHostFile(hfd)}
	sfd.file.sigfd = sfd
	return sfd, nil
}

// refreshSignalfdsLocked makes each signalfd's eventfd readable exactly
// while one of its signals is pending, and retires signalfds the guest
// closed. Called whenever a signal is queued or taken.
// Preconditions: s.mu held.
func (s *SignalHandlers) refreshSignalfdsLocked() {
	if len(s.sigfds) == 0 {
		return
	}
	pending := s.shared.set
	for t := range s.tasks {
		pending |= t.SigState.pending.set
	}
	keep := s.sigfds[:0]
	for _, f := range s.sigfds {
		if f.file.refs.Load() <= 0 {
			unix.Close(f.efd)
			continue
		}
		keep = append(keep, f)
		want := pending&f.mask != 0
		if want == f.ready {
			continue
		}
		var b [8]byte
		if want {
			binary.LittleEndian.PutUint64(b[:], 1)
			unix.Write(f.efd, b[:])
		} else {
			unix.Read(f.efd, b[:]) // non-blocking: resets the counter
		}
		f.ready = want
	}
	clear(s.sigfds[len(keep):])
	s.sigfds = keep
}

// readSignalfd implements read(2) on a signalfd: as many pending signals of
// its mask as whole records fit in n bytes, handed to put, waiting for one
// unless the descriptor is non-blocking.
func (t *Task) readSignalfd(f *HostFile, n uint64, put func([]byte) error) (uint64, error) {
	const rec = abi.SizeofSignalfdSiginfo
	if n < rec {
		return 0, abi.EINVAL
	}
	n = min(n, 64*rec)
	s := t.Proc.Signals
	for {
		var out []byte
		s.mu.Lock()
		for uint64(len(out))+rec <= n {
			info, ok := t.dequeueLocked(^f.sigfd.mask)
			if !ok {
				break
			}
			out = append(out, signalfdRecord(&info)...)
		}
		s.refreshSignalfdsLocked()
		s.mu.Unlock()
		if len(out) > 0 {
			if err := put(out); err != nil {
				return 0, err
			}
			return uint64(len(out)), nil
		}
		fl, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0)
		if err == nil && fl&unix.O_NONBLOCK != 0 {
			return 0, abi.EAGAIN
		}
		if err := t.waitReady(f, unix.POLLIN); err != nil {
			return 0, err
		}
	}
}

// signalfdRecord encodes info as a struct signalfd_siginfo, with the
// fields of its siginfo layout as Linux's signalfd_copyinfo fills them.
func signalfdRecord(info *abi.Siginfo) []byte {
	b := make([]byte, abi.SizeofSignalfdSiginfo)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	const (
		pid, uid, fd, tid, band, overrun = 12, 16, 20, 24, 28, 32
		status, sint, ptr, utime, stime  = 40, 44, 48, 56, 64
		addr                             = 72
	)
	sig, code := int(info.Signo), info.Code
	switch {
	case code > 0 && code < abi.SI_KERNEL && isFaultSignal(sig):
		le.PutUint64(b[addr:], uint64(info.Addr()))
	case code > 0 && code < abi.SI_KERNEL && sig == abi.SIGCHLD:
		le.PutUint32(b[pid:], uint32(info.Pid()))
		le.PutUint32(b[uid:], info.Uid())
		le.PutUint32(b[status:], uint32(info.Status()))
		le.PutUint64(b[utime:], uint64(info.Utime()))
		le.PutUint64(b[stime:], uint64(info.Stime()))
	case (code > 0 && code < abi.SI_KERNEL && sig == abi.SIGPOLL) || code == abi.SI_SIGIO:
		le.PutUint32(b[band:], uint32(info.Band()))
		le.PutUint32(b[fd:], uint32(info.Fd()))
	case code == abi.SI_TIMER:
		le.PutUint32(b[tid:], uint32(info.TimerID()))
		le.PutUint32(b[overrun:], uint32(info.Overrun()))
		le.PutUint64(b[ptr:], info.Value())
		le.PutUint32(b[sint:], uint32(info.Value()))
	case code < 0:
		le.PutUint32(b[pid:], uint32(info.Pid()))
		le.PutUint32(b[uid:], info.Uid())
		le.PutUint64(b[ptr:], info.Value())
		le.PutUint32(b[sint:], uint32(info.Value()))
	default: // SI_USER, SI_KERNEL and the rest: kill's layout
		le.PutUint32(b[pid:], uint32(info.Pid()))
		le.PutUint32(b[uid:], info.Uid())
	}
	return b
}

// isFaultSignal reports whether sig is one of the signals whose positive
// si_codes describe a fault (siginfo's _sigfault layout).
func isFaultSignal(sig int) bool {
	switch sig {
	case abi.SIGILL, abi.SIGFPE, abi.SIGSEGV, abi.SIGBUS, abi.SIGTRAP:
		return true
	}
	return false
}

// signalfdIO is read(2) and write(2) on a signalfd (rwBuf's hook): write
// has no meaning there (EINVAL, as Linux, which has no write method).
func (t *Task) signalfdIO(f *HostFile, addr abi.Addr, n uint64, toGuest bool) (uint64, error) {
	if !toGuest {
		return 0, abi.EINVAL
	}
	return t.readSignalfd(f, n, func(b []byte) error {
		_, err := t.CopyOut(addr, b)
		return err
	})
}

// signalfdIOVec is readv(2) and writev(2) on a signalfd (rwVec's hook):
// the records fill the vector's buffers in order.
func (t *Task) signalfdIOVec(f *HostFile, iovAddr abi.Addr, count uint64, toGuest bool) (uint64, error) {
	if !toGuest {
		return 0, abi.EINVAL
	}
	iovs, err := t.ioVecs(iovAddr, count, true)
	if err != nil {
		return 0, err
	}
	return t.readSignalfd(f, uint64(iovLen(iovs)), func(b []byte) error {
		for _, v := range iovs {
			b = b[copy(v, b):]
		}
		return nil
	})
}

// signalfdMask returns f's mask under the signal lock.
func (s *SignalHandlers) signalfdMask(f *signalFD) abi.SigSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f.mask
}

// installForkSignalfd re-creates a parent's signalfd in a fork child at
// the same number, with the status flags of the parent's descriptor src.
func (p *Process) installForkSignalfd(e ForkFD, src int) error {
	fl, err := unix.FcntlInt(uintptr(src), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("fork: signalfd %d: %w", e.FD, err)
	}
	sfd, err := newSignalFD(abi.SigSet(e.SignalMask), fl&unix.O_NONBLOCK != 0)
	if err != nil {
		return fmt.Errorf("fork: signalfd %d: %w", e.FD, err)
	}
	if err := p.FDs.installFileAt(e.FD, sfd.file, e.CloseOnExec); err != nil {
		unix.Close(sfd.efd)
		sfd.file.put()
		return fmt.Errorf("fork: install signalfd %d: %w", e.FD, err)
	}
	s := p.Signals
	s.mu.Lock()
	s.sigfds = append(s.sigfds, sfd)
	s.refreshSignalfdsLocked()
	s.mu.Unlock()
	return nil
}
