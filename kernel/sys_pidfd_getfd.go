package kernel

// pidfd_getfd(2): a duplicate of another process's descriptor, as if it
// had been passed over a Unix socket: the same open file description
// (offset, status flags), installed close-on-exec. The target's descriptors
// live in its own guestproc; its host passes the host descriptor (see
// ipc/getfd.go), and the target's kernel decides (SharedFD) as Linux's
// __pidfd_fget: PTRACE_MODE_ATTACH_REALCREDS, EBADF for a descriptor it
// does not have.

import (
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

func init() {
	register(map[uint64]Syscall{
		abi.SYS_PIDFD_GETFD: {Name: "pidfd_getfd", Fn: PidfdGetfd, Support: Partial,
			Note: "a pidfd taken from another process arrives as a plain descriptor; a stopped target answers once continued"},
	})
}

// capSysPtrace is Linux's CAP_SYS_PTRACE.
const capSysPtrace = 19

// PidfdGetfdHost is the part of a Host that takes descriptors of other
// processes.
type PidfdGetfdHost interface {
	// PidfdGetfd returns a new host descriptor for the open file behind
	// descriptor fd of process pid while pid is incarnation gen (ESRCH
	// otherwise). uid, gid and ptrace are the caller's real ids and
	// CAP_SYS_PTRACE, for the target's permission check.
	PidfdGetfd(pid int32, gen uint64, fd int32, uid, gid uint32, ptrace bool) (int, error)
}

// PidfdGetfd implements Linux syscall pidfd_getfd(2).
func PidfdGetfd(t *Task, a *Args) (uint64, error) {
	pidfd, fd, flags := a.Int(0), a.Int(1), a[2]
	if flags != 0 {
		return 0, abi.EINVAL
	}
	target, _, err := t.pidfdOf(pidfd)
	if err != nil {
		return 0, err
	}
	if err := t.Proc.FDs.Available(); err != nil {
		return 0, err
	}
	if target.pid == t.Proc.pid() && t.pidfdAlive(&target) {
		// The caller's own table: a close-on-exec dup.
		nfd, err := t.Proc.FDs.Dup(fd, 0, true)
		if err != nil {
			return 0, abi.EBADF
		}
		return uint64(nfd), nil
	}
	if t.Proc.Kernel == nil {
		return 0, abi.ESRCH
	}
	h, ok := t.Proc.Kernel.Host.(PidfdGetfdHost)
	if !ok {
		return 0, abi.ESRCH
	}
	c := t.Proc.Creds()
	hostfd, err := h.PidfdGetfd(target.pid, target.gen, fd, c.RUID, c.RGID, c.capable(capSysPtrace))
	if err != nil {
		return 0, err
	}
	nfd, err := t.Proc.FDs.Install(hostfd, true, 0)
	if err != nil {
		unix.Close(hostfd)
		return 0, err
	}
	return uint64(nfd), nil
}

// SharedFD is the target's side of pidfd_getfd: a new close-on-exec host
// descriptor for descriptor fd, for a caller with real ids uid and gid
// (ptrace: it has CAP_SYS_PTRACE). As Linux's ptrace_may_access with
// PTRACE_MODE_ATTACH_REALCREDS, the caller's real ids must be all of the
// process's user and group ids, and the process dumpable, unless the
// caller has CAP_SYS_PTRACE (EPERM); EBADF when fd is not open.
func (p *Process) SharedFD(fd int32, uid, gid uint32, ptrace bool) (int, error) {
	st := p.State()
	c := st.Creds
	same := uid == c.RUID && uid == c.EUID && uid == c.SUID &&
		gid == c.RGID && gid == c.EGID && gid == c.SGID
	if !ptrace && (!same || st.Dumpable != 1) {
		return -1, abi.EPERM
	}
	f, err := p.FDs.Acquire(fd)
	if err != nil {
		return -1, abi.EBADF
	}
	defer f.Release()
	nfd, err := unix.FcntlInt(uintptr(f.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, hostErrno(err)
	}
	return nfd, nil
}
