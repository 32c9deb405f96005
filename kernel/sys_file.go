package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Opening, closing and duplicating descriptors; lseek and fcntl.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_OPEN:        {Name: "open", Fn: Open},
		abi.SYS_OPENAT:      {Name: "openat", Fn: Openat},
		abi.SYS_OPENAT2:     {Name: "openat2", Fn: Openat2},
		abi.SYS_CREAT:       {Name: "creat", Fn: Creat},
		abi.SYS_CLOSE:       {Name: "close", Fn: Close},
		abi.SYS_CLOSE_RANGE: {Name: "close_range", Fn: CloseRange},
		abi.SYS_LSEEK:       {Name: "lseek", Fn: Lseek},
		abi.SYS_DUP:         {Name: "dup", Fn: Dup},
		abi.SYS_DUP2:        {Name: "dup2", Fn: Dup2},
		abi.SYS_DUP3:        {Name: "dup3", Fn: Dup3},
		abi.SYS_FCNTL: {Name: "fcntl", Fn: Fcntl, Support: Partial,
			Note: "F_SETOWN to a process other than 0, F_SETSIG and F_NOTIFY are refused (ESRCH/EINVAL) until signals can be routed; lock owners' pids are host pids; an F_SETLKW wait cannot be interrupted by a guest signal"},
	})
}

// installHost gives a freshly opened host descriptor a guest number, closing
// it if the table is full.
func (t *Task) installHost(hostfd int, cloexec bool) (uint64, error) {
	fd, err := t.Proc.FDs.Install(hostfd, cloexec, 0)
	if err != nil {
		unix.Close(hostfd)
		return 0, err
	}
	return uint64(fd), nil
}

// openat is the core of open, openat and creat.
func (t *Task) openat(dirfd int32, pathAddr abi.Addr, flags int, mode uint32) (uint64, error) {
	if err := t.Proc.FDs.Available(); err != nil {
		return 0, err
	}
	// O_TRUNC waits until the file is known not to be a running
	// program (textbusy.go).
	trunc := writesFile(flags) && flags&abi.O_TRUNC != 0
	open := flags
	if trunc {
		open &^= abi.O_TRUNC
	}
	hostfd, fdDir, err := t.openPath(dirfd, pathAddr, openatHow(open, mode&0o7777), false)
	if err != nil {
		return 0, err
	}
	if fdDir {
		return t.installFDDir(hostfd, flags&abi.O_CLOEXEC != 0)
	}
	if put := t.takePut(hostfd); put != nil {
		return t.installPut(hostfd, put, flags&abi.O_CLOEXEC != 0) // procfs_comm.go
	}
	if writesFile(flags) {
		if err := t.openedForWrite(hostfd, trunc); err != nil {
			unix.Close(hostfd)
			return 0, err
		}
	}
	return t.installHost(hostfd, flags&abi.O_CLOEXEC != 0)
}

// Open implements Linux syscall open(2).
func Open(t *Task, a *Args) (uint64, error) {
	return t.openat(abi.AT_FDCWD, a.Addr(0), int(a.Int(1)), a.Uint(2))
}

// Openat implements Linux syscall openat(2).
func Openat(t *Task, a *Args) (uint64, error) {
	return t.openat(a.Int(0), a.Addr(1), int(a.Int(2)), a.Uint(3))
}

// Creat implements Linux syscall creat(2).
func Creat(t *Task, a *Args) (uint64, error) {
	return t.openat(abi.AT_FDCWD, a.Addr(0), abi.O_CREAT|abi.O_WRONLY|abi.O_TRUNC, a.Uint(1))
}

// Openat2 implements Linux syscall openat2(2).
func Openat2(t *Task, a *Args) (uint64, error) {
	dirfd, pathAddr, howAddr, size := a.Int(0), a.Addr(1), a.Addr(2), a[3]
	if size < abi.OPEN_HOW_SIZE_VER0 {
		return 0, abi.EINVAL
	}
	if size > abi.PageSize {
		return 0, abi.E2BIG
	}
	buf := make([]byte, size)
	if _, err := t.CopyIn(howAddr, buf); err != nil {
		return 0, err
	}
	// A newer struct is accepted only if the fields we don't know are zero.
	for _, b := range buf[abi.OPEN_HOW_SIZE_VER0:] {
		if b != 0 {
			return 0, abi.E2BIG
		}
	}
	var how abi.OpenHow
	how.UnmarshalBytes(buf)
	if err := t.Proc.FDs.Available(); err != nil {
		return 0, err
	}
	fl := int(how.Flags)
	trunc := writesFile(fl) && fl&abi.O_TRUNC != 0
	open := how.Flags
	if trunc {
		open &^= abi.O_TRUNC
	}
	hostfd, _, err := t.openPath(dirfd, pathAddr, unix.OpenHow{
		Flags:   open | unix.O_CLOEXEC,
		Mode:    how.Mode,
		Resolve: how.Resolve,
	}, true)
	if err != nil {
		return 0, err
	}
	if put := t.takePut(hostfd); put != nil {
		return t.installPut(hostfd, put, how.Flags&abi.O_CLOEXEC != 0) // procfs_comm.go
	}
	if writesFile(fl) {
		if err := t.openedForWrite(hostfd, trunc); err != nil {
			unix.Close(hostfd)
			return 0, err
		}
	}
	return t.installHost(hostfd, how.Flags&abi.O_CLOEXEC != 0)
}

// Close implements Linux syscall close(2).
func Close(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.FDs.Close(a.Int(0))
}

// CloseRange implements Linux syscall close_range(2). The descriptor table
// is never shared with another process, so CLOSE_RANGE_UNSHARE has nothing
// to do.
func CloseRange(t *Task, a *Args) (uint64, error) {
	first, last, flags := a.Uint(0), a.Uint(1), a.Uint(2)
	if flags&^(abi.CLOSE_RANGE_UNSHARE|abi.CLOSE_RANGE_CLOEXEC) != 0 || first > last {
		return 0, abi.EINVAL
	}
	if first > 1<<31-1 {
		return 0, nil
	}
	hi := int32(min(last, 1<<31-1))
	if flags&abi.CLOSE_RANGE_CLOEXEC != 0 {
		t.Proc.FDs.SetCloexecRange(int32(first), hi)
	} else {
		t.Proc.FDs.CloseRange(int32(first), hi)
	}
	return 0, nil
}

// Lseek implements Linux syscall lseek(2).
func Lseek(t *Task, a *Args) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	if f.fdDir != nil {
		return f.fdDir.seek(int64(a[1]), int(a.Uint(2)))
	}
	off, err := unix.Seek(f.FD(), int64(a[1]), int(a.Uint(2)))
	if err != nil {
		return 0, err
	}
	return uint64(off), nil
}

// Dup implements Linux syscall dup(2).
func Dup(t *Task, a *Args) (uint64, error) {
	fd, err := t.Proc.FDs.Dup(a.Int(0), 0, false)
	return uint64(fd), err
}

// Dup2 implements Linux syscall dup2(2).
func Dup2(t *Task, a *Args) (uint64, error) {
	oldfd, newfd := a.Int(0), a.Int(1)
	if oldfd == newfd {
		if _, err := t.Proc.FDs.Get(oldfd); err != nil {
			return 0, err
		}
		return uint64(newfd), nil
	}
	return uint64(newfd), t.Proc.FDs.DupTo(oldfd, newfd, false)
}

// Dup3 implements Linux syscall dup3(2).
func Dup3(t *Task, a *Args) (uint64, error) {
	oldfd, newfd, flags := a.Int(0), a.Int(1), a.Int(2)
	if flags&^abi.O_CLOEXEC != 0 || oldfd == newfd {
		return 0, abi.EINVAL
	}
	return uint64(newfd), t.Proc.FDs.DupTo(oldfd, newfd, flags&abi.O_CLOEXEC != 0)
}

// Fcntl implements Linux syscall fcntl(2).
func Fcntl(t *Task, a *Args) (uint64, error) {
	fd, cmd := a.Int(0), a.Int(1)
	fds := t.Proc.FDs
	switch cmd {
	case abi.F_DUPFD, abi.F_DUPFD_CLOEXEC:
		// The minimum is an unsigned long: "negative" values are huge.
		if a[2] >= uint64(fds.Limit()) {
			if _, err := fds.Get(fd); err != nil {
				return 0, err
			}
			return 0, abi.EINVAL
		}
		nfd, err := fds.Dup(fd, int32(a[2]), cmd == abi.F_DUPFD_CLOEXEC)
		return uint64(nfd), err
	case abi.F_GETFD:
		cloexec, err := fds.GetCloexec(fd)
		if err != nil || !cloexec {
			return 0, err
		}
		return abi.FD_CLOEXEC, nil
	case abi.F_SETFD:
		return 0, fds.SetCloexec(fd, a.Int(2)&abi.FD_CLOEXEC != 0)
	}

	f, err := fds.Acquire(fd)
	if err != nil {
		return 0, err
	}
	defer f.Release()
	host := uintptr(f.FD())
	switch cmd {
	case abi.F_GETFL, abi.F_GETPIPE_SZ, abi.F_GET_SEALS, abi.F_GETLEASE, abi.F_GETOWN:
		v, err := unix.FcntlInt(host, int(cmd), 0)
		return uint64(int64(v)), err
	case abi.F_SETFL:
		// O_ASYNC would have the host kernel signal the guestproc, which
		// the guest cannot receive yet; Linux ignores flags it cannot set,
		// so dropping it leaves the rest of the call intact.
		_, err := unix.FcntlInt(host, unix.F_SETFL, int(a.Int(2))&^abi.O_ASYNC)
		return 0, err
	case abi.F_SETPIPE_SZ, abi.F_ADD_SEALS, abi.F_SETLEASE:
		v, err := unix.FcntlInt(host, int(cmd), int(a.Int(2)))
		return uint64(int64(v)), err
	case abi.F_SETOWN:
		if a.Int(2) != 0 {
			return 0, abi.ESRCH
		}
		_, err := unix.FcntlInt(host, unix.F_SETOWN, 0)
		return 0, err
	case abi.F_GETLK, abi.F_SETLK, abi.F_SETLKW, abi.F_OFD_GETLK, abi.F_OFD_SETLK, abi.F_OFD_SETLKW:
		return 0, t.fcntlLock(host, int(cmd), a.Addr(2))
	}
	return 0, abi.EINVAL
}

// fcntlLock serves the record-lock commands of fcntl(2) on a host fd.
func (t *Task) fcntlLock(host uintptr, cmd int, addr abi.Addr) error {
	var buf [abi.SizeofFlock]byte
	if _, err := t.CopyIn(addr, buf[:]); err != nil {
		return err
	}
	var lk abi.Flock
	lk.UnmarshalBytes(buf[:])
	hl := unix.Flock_t{Type: lk.Type, Whence: lk.Whence, Start: lk.Start, Len: lk.Len, Pid: lk.Pid}
	switch cmd {
	case abi.F_SETLKW, abi.F_OFD_SETLKW:
		return t.waitLock(func() error { return unix.FcntlFlock(host, cmd, &hl) })
	case abi.F_SETLK, abi.F_OFD_SETLK:
		return unix.FcntlFlock(host, cmd, &hl)
	}
	if err := unix.FcntlFlock(host, cmd, &hl); err != nil {
		return err
	}
	// The holder's pid is a host pid (its guestproc); -1 names an open
	// file description lock (sockcred.go: as for credentials).
	pid := hl.Pid
	if hl.Type != unix.F_UNLCK && pid > 0 {
		pid = t.guestPidOf(pid)
	}
	lk = abi.Flock{Type: hl.Type, Whence: hl.Whence, Start: hl.Start, Len: hl.Len, Pid: pid}
	lk.MarshalBytes(buf[:])
	_, err := t.CopyOut(addr, buf[:])
	return err
}
