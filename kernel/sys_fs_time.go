package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// File timestamps: utime, utimes, futimesat and utimensat all reduce to the
// host's utimensat.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_UTIME:     {Name: "utime", Fn: Utime},
		abi.SYS_UTIMES:    {Name: "utimes", Fn: Utimes},
		abi.SYS_FUTIMESAT: {Name: "futimesat", Fn: Futimesat},
		abi.SYS_UTIMENSAT: {Name: "utimensat", Fn: Utimensat},
	})
}

// utimeNow is what a NULL times argument means: both stamps set to now,
// with the same permission rule as Linux applies to NULL.
var utimeNow = []unix.Timespec{{Nsec: abi.UTIME_NOW}, {Nsec: abi.UTIME_NOW}}

// utimensat is the core of the family: it sets the times of the file
// named by (dirfd, path), or of dirfd itself when pathAddr is NULL.
func (t *Task) utimensat(dirfd int32, pathAddr abi.Addr, ts []unix.Timespec, flags int) (uint64, error) {
	if flags&^(abi.AT_SYMLINK_NOFOLLOW|abi.AT_EMPTY_PATH) != 0 {
		return 0, abi.EINVAL
	}
	if pathAddr == 0 {
		// futimens(2): Linux accepts no flags here and needs a real fd.
		if dirfd == abi.AT_FDCWD {
			return 0, abi.EFAULT
		}
		if flags != 0 {
			return 0, abi.EINVAL
		}
		return t.withFD(dirfd, func(h int) error {
			return unix.UtimesNanoAt(h, "", ts, unix.AT_EMPTY_PATH)
		})
	}
	return t.atPath(dirfd, pathAddr, statPathFlags(flags)|pathWrite, func(p hostPath) error {
		return unix.UtimesNanoAt(p.dirfd, p.path, ts, flags)
	})
}

// copyInTimevals reads a struct timeval[2] (NULL: now) for utimes and
// futimesat, checking tv_usec as Linux does.
func (t *Task) copyInTimevals(addr abi.Addr) ([]unix.Timespec, error) {
	if addr == 0 {
		return utimeNow, nil
	}
	var b [2 * abi.SizeofTimeval]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return nil, err
	}
	ts := make([]unix.Timespec, 2)
	for i := range ts {
		var tv abi.Timeval
		tv.UnmarshalBytes(b[i*abi.SizeofTimeval:])
		if tv.Usec < 0 || tv.Usec >= 1e6 {
			return nil, abi.EINVAL
		}
		ts[i] = unix.Timespec{Sec: tv.Sec, Nsec: tv.Usec * 1000}
	}
	return ts, nil
}

// Utime implements Linux syscall utime(2).
func Utime(t *Task, a *Args) (uint64, error) {
	ts := utimeNow
	if a.Addr(1) != 0 {
		var b [abi.SizeofUtimbuf]byte
		if _, err := t.CopyIn(a.Addr(1), b[:]); err != nil {
			return 0, err
		}
		var u abi.Utimbuf
		u.UnmarshalBytes(b[:])
		ts = []unix.Timespec{{Sec: u.Actime}, {Sec: u.Modtime}}
	}
	if a.Addr(0) == 0 {
		return 0, abi.EFAULT
	}
	return t.utimensat(abi.AT_FDCWD, a.Addr(0), ts, 0)
}

// Utimes implements Linux syscall utimes(2).
func Utimes(t *Task, a *Args) (uint64, error) {
	ts, err := t.copyInTimevals(a.Addr(1))
	if err != nil {
		return 0, err
	}
	if a.Addr(0) == 0 {
		return 0, abi.EFAULT
	}
	return t.utimensat(abi.AT_FDCWD, a.Addr(0), ts, 0)
}

// Futimesat implements Linux syscall futimesat(2).
func Futimesat(t *Task, a *Args) (uint64, error) {
	ts, err := t.copyInTimevals(a.Addr(2))
	if err != nil {
		return 0, err
	}
	return t.utimensat(a.Int(0), a.Addr(1), ts, 0)
}

// Utimensat implements Linux syscall utimensat(2).
func Utimensat(t *Task, a *Args) (uint64, error) {
	ts := utimeNow
	if a.Addr(2) != 0 {
		var b [2 * abi.SizeofTimespec]byte
		if _, err := t.CopyIn(a.Addr(2), b[:]); err != nil {
			return 0, err
		}
		ts = make([]unix.Timespec, 2)
		for i := range ts {
			var v abi.Timespec
			v.UnmarshalBytes(b[i*abi.SizeofTimespec:])
			ts[i] = unix.Timespec{Sec: v.Sec, Nsec: v.Nsec}
		}
	}
	return t.utimensat(a.Int(0), a.Addr(1), ts, int(a.Int(3)))
}
