package kernel

import (
	"fmt"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// pidfd descriptors.
//
// A pidfd names one incarnation of a process: its pid plus the number the
// supervisor gave that incarnation (Gen), so a later process reusing the
// pid is never reached through it. The guest's descriptor is a host
// eventfd the supervisor made, which it makes readable when the process
// exits (supervisor/pidfd.go): poll, select and epoll on it work through
// the ordinary host descriptor code. read(2) and write(2) on it are EINVAL
// (rwBuf's hook), as on Linux, so the guest can never drain it.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_PIDFD_OPEN: {Name: "pidfd_open", Fn: PidfdOpen},
		abi.SYS_PIDFD_SEND_SIGNAL: {Name: "pidfd_send_signal", Fn: withSignals(PidfdSendSignal), Support: Partial,
			Note: "PIDFD_SIGNAL_PROCESS_GROUP EINVAL"},
	})
}

// PidfdHost is the part of a TreeHost that makes and uses pidfds.
type PidfdHost interface {
	// PidfdOpen returns a new host descriptor for a pidfd of process pid
	// (a zombie too; ESRCH for none), readable once the process has
	// exited, and the incarnation it names.
	PidfdOpen(pid int32) (fd int, gen uint64, err error)
	// PidfdKill is kill(2) of pid with info (Signo 0 probes) while pid is
	// still incarnation gen (ESRCH once it is reaped). self reports that
	// the caller is the target and queues the signal itself.
	PidfdKill(pid int32, gen uint64, info *abi.Siginfo) (self bool, err error)
}

// Linux's pidfd flag values.
const (
	pidfdNonblock             = unix.O_NONBLOCK
	pidfdSignalThread         = 1 << 0
	pidfdSignalThreadGroup    = 1 << 1
	pidfdSignalProcessGroup   = 1 << 2
	pidfdLink                 = "anon_inode:[pidfd]"
	pidfdValidSendSignalFlags = pidfdSignalThread | pidfdSignalThreadGroup | pidfdSignalProcessGroup
)

// pidFD is what a pidfd names.
type pidFD struct {
	pid int32
	gen uint64
}

// pidfdHost returns the kernel's PidfdHost, if its Host is one.
func (p *Process) pidfdHost() (PidfdHost, bool) {
	if p.Kernel == nil || p.Kernel.Host == nil {
		return nil, false
	}
	h, ok := p.Kernel.Host.(PidfdHost)
	return h, ok
}

// PidfdOpen implements Linux syscall pidfd_open(2).
func PidfdOpen(t *Task, a *Args) (uint64, error) {
	pid, flags := a.Int(0), a[1]
	if flags&^pidfdNonblock != 0 || pid <= 0 {
		return 0, abi.EINVAL
	}
	fd, err := t.newPidfd(pid, flags&pidfdNonblock != 0)
	return uint64(fd), err
}

// newPidfd installs a close-on-exec pidfd of process pid at the lowest
// free number.
func (t *Task) newPidfd(pid int32, nonblock bool) (int32, error) {
	h, ok := t.Proc.pidfdHost()
	if !ok {
		return -1, abi.ENOSYS
	}
	if err := t.Proc.FDs.Available(); err != nil {
		return -1, err
	}
	hfd, gen, err := h.PidfdOpen(pid)
	if err != nil {
		return -1, err
	}
	if nonblock {
		if _, err := unix.FcntlInt(uintptr(hfd), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
			unix.Close(hfd)
			return -1, err
		}
	}
	file := newHostFile(hfd)
	file.pidfd = &pidFD{pid: pid, gen: gen}
	gfd, err := t.Proc.FDs.installFile(file, true, 0)
	if err != nil {
		file.put()
		return -1, err
	}
	return gfd, nil
}

// pidfdOf returns what guest descriptor fd names: EBADF when it is not
// open or not a pidfd, as Linux's pidfd_to_pid. The second result is the
// descriptor's O_NONBLOCK.
func (t *Task) pidfdOf(fd int32) (pidFD, bool, error) {
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return pidFD{}, false, err
	}
	defer f.Release()
	if f.pidfd == nil {
		return pidFD{}, false, abi.EBADF
	}
	fl, err := unix.FcntlInt(uintptr(f.FD()), unix.F_GETFL, 0)
	return *f.pidfd, err == nil && fl&unix.O_NONBLOCK != 0, nil
}

// PidfdSendSignal implements Linux syscall pidfd_send_signal(2). A
// process has one thread, so PIDFD_SIGNAL_THREAD and _THREAD_GROUP both
// reach the process.
func PidfdSendSignal(t *Task, a *Args) (uint64, error) {
	fd, sig, infoAddr, flags := a.Int(0), int(a.Int(1)), a.Addr(2), a[3]
	if flags&^pidfdValidSendSignalFlags != 0 || flags&(flags-1) != 0 {
		return 0, abi.EINVAL
	}
	if flags&pidfdSignalProcessGroup != 0 {
		t.logOnce("pidfd_send_signal: PIDFD_SIGNAL_PROCESS_GROUP is not supported; returning EINVAL")
		return 0, abi.EINVAL
	}
	target, _, err := t.pidfdOf(fd)
	if err != nil {
		return 0, err
	}
	if sig < 0 || sig > abi.NSIG {
		return 0, abi.EINVAL
	}
	info := t.userInfo(sig, abi.SI_USER)
	if infoAddr != 0 {
		var b [abi.SizeofSiginfo]byte
		if _, err := t.CopyIn(infoAddr, b[:]); err != nil {
			return 0, err
		}
		info = new(abi.Siginfo)
		info.UnmarshalBytes(b[:])
		if int(info.Signo) != sig {
			return 0, abi.EINVAL
		}
		// Only the process itself may forge kernel or kill() origins.
		if (info.Code >= 0 || info.Code == abi.SI_TKILL) && target.pid != t.Proc.pid() {
			return 0, abi.EPERM
		}
	}
	h, ok := t.Proc.pidfdHost()
	if !ok {
		return 0, abi.ESRCH
	}
	self, err := h.PidfdKill(target.pid, target.gen, info)
	if err != nil {
		return 0, err
	}
	if self && sig != 0 {
		return 0, t.Proc.queueShared(t, info)
	}
	return 0, nil
}

// installForkPidfd re-creates a parent's pidfd in a fork child at the
// same number: the same host file description (its readiness is the
// target's, whoever holds it) naming the same incarnation.
func (p *Process) installForkPidfd(e ForkFD, src int) error {
	fd, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return fmt.Errorf("fork: dup pidfd %d: %w", e.FD, err)
	}
	file := newHostFile(fd)
	file.pidfd = &pidFD{pid: e.Pidfd, gen: e.PidfdGen}
	if err := p.FDs.installFileAt(e.FD, file, e.CloseOnExec); err != nil {
		file.put()
		return fmt.Errorf("fork: install pidfd %d: %w", e.FD, err)
	}
	return nil
}
