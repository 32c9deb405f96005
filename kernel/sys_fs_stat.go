package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
	"strings"
)

// File status: the stat family, statx, statfs and access checks.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_STAT:       {Name: "stat", Fn: Stat},
		abi.SYS_LSTAT:      {Name: "lstat", Fn: Lstat},
		abi.SYS_FSTAT:      {Name: "fstat", Fn: Fstat},
		abi.SYS_NEWFSTATAT: {Name: "newfstatat", Fn: Newfstatat},
		abi.SYS_STATX:      {Name: "statx", Fn: Statx},
		abi.SYS_STATFS:     {Name: "statfs", Fn: Statfs},
		abi.SYS_FSTATFS:    {Name: "fstatfs", Fn: Fstatfs},
		abi.SYS_ACCESS:     {Name: "access", Fn: Access},
		abi.SYS_FACCESSAT:  {Name: "faccessat", Fn: Faccessat},
		abi.SYS_FACCESSAT2: {Name: "faccessat2", Fn: Faccessat2},
	})
}

// statFromHost converts the host's struct stat (same ABI) to abi.Stat.
func statFromHost(s *unix.Stat_t) abi.Stat {
	return abi.Stat{
		Dev: s.Dev, Ino: s.Ino, Nlink: s.Nlink, Mode: s.Mode, UID: s.Uid, GID: s.Gid,
		Rdev: s.Rdev, Size: s.Size, Blksize: s.Blksize, Blocks: s.Blocks,
		ATime: abi.Timespec{Sec: s.Atim.Sec, Nsec: s.Atim.Nsec},
		MTime: abi.Timespec{Sec: s.Mtim.Sec, Nsec: s.Mtim.Nsec},
		CTime: abi.Timespec{Sec: s.Ctim.Sec, Nsec: s.Ctim.Nsec},
	}
}

// copyOutStat writes a host stat result to guest memory.
func (t *Task) copyOutStat(addr abi.Addr, hs *unix.Stat_t) error {
	st := statFromHost(hs)
	var b [abi.SizeofStat]byte
	st.MarshalBytes(b[:])
	_, err := t.CopyOut(addr, b[:])
	return err
}

// statPathFlags maps the stat family's AT_ flags to resolvePath's.
func statPathFlags(flags int) pathFlags {
	pf := pathFlags(0)
	if flags&abi.AT_EMPTY_PATH != 0 {
		pf |= pathAllowEmpty
	}
	if flags&abi.AT_SYMLINK_NOFOLLOW != 0 {
		pf |= pathNoFollow
	}
	return pf
}

// resolveStatPath resolves the path of fstatat and statx, which since
// Linux 6.11 accept NULL for "" with AT_EMPTY_PATH.
func (t *Task) resolveStatPath(dirfd int32, pathAddr abi.Addr, flags int) (hostPath, error) {
	pf := statPathFlags(flags)
	if pathAddr == 0 && pf&pathAllowEmpty != 0 {
		return t.resolvePathString(dirfd, "", pf)
	}
	return t.resolvePath(dirfd, pathAddr, pf)
}

// fstatat is the core of the stat family.
func (t *Task) fstatat(dirfd int32, pathAddr abi.Addr, statAddr abi.Addr, flags int) (uint64, error) {
	p, err := t.resolveStatPath(dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	defer p.release()
	var hs unix.Stat_t
	if p.synth != nil {
		hs = p.synth.stat(t)
	} else if fd, ok := p.object(); ok && flags&abi.AT_SYMLINK_NOFOLLOW == 0 {
		if err := unix.Fstat(fd, &hs); err != nil {
			return 0, err
		}
	} else {
		hdir, hname := p.at()
		if err := unix.Fstatat(hdir, hname, &hs, flags); err != nil {
			return 0, err
		}
	}
	return 0, t.copyOutStat(statAddr, &hs)
}

// Stat implements Linux syscall stat(2).
func Stat(t *Task, a *Args) (uint64, error) {
	return t.fstatat(abi.AT_FDCWD, a.Addr(0), a.Addr(1), 0)
}

// Lstat implements Linux syscall lstat(2).
func Lstat(t *Task, a *Args) (uint64, error) {
	return t.fstatat(abi.AT_FDCWD, a.Addr(0), a.Addr(1), abi.AT_SYMLINK_NOFOLLOW)
}

// Newfstatat implements Linux syscall newfstatat(2) (fstatat).
func Newfstatat(t *Task, a *Args) (uint64, error) {
	return t.fstatat(a.Int(0), a.Addr(1), a.Addr(2), int(a.Int(3)))
}

// Fstat implements Linux syscall fstat(2).
func Fstat(t *Task, a *Args) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	var hs unix.Stat_t
	if err := unix.Fstat(f.FD(), &hs); err != nil {
		return 0, err
	}
	synthStatFD(t, f.FD(), &hs)
	return 0, t.copyOutStat(a.Addr(1), &hs)
}

// Statx implements Linux syscall statx(2).
func Statx(t *Task, a *Args) (uint64, error) {
	dirfd, pathAddr, flags, mask, bufAddr := a.Int(0), a.Addr(1), int(a.Int(2)), int(a.Uint(3)), a.Addr(4)
	p, err := t.resolveStatPath(dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	defer p.release()
	var hs unix.Statx_t
	if p.synth != nil {
		st := p.synth.stat(t)
		hs = synthStatx(&st)
	} else if err := unix.Statx(p.dirfd, p.path, flags, mask, &hs); err != nil {
		return 0, err
	}
	ts := func(v unix.StatxTimestamp) abi.StatxTimestamp {
		return abi.StatxTimestamp{Sec: v.Sec, Nsec: v.Nsec}
	}
	sx := abi.Statx{
		Mask: hs.Mask, Blksize: hs.Blksize, Attributes: hs.Attributes, Nlink: hs.Nlink,
		UID: hs.Uid, GID: hs.Gid, Mode: hs.Mode, Ino: hs.Ino, Size: hs.Size, Blocks: hs.Blocks,
		AttributesMask: hs.Attributes_mask,
		Atime:          ts(hs.Atime), Btime: ts(hs.Btime), Ctime: ts(hs.Ctime), Mtime: ts(hs.Mtime),
		RdevMajor: hs.Rdev_major, RdevMinor: hs.Rdev_minor, DevMajor: hs.Dev_major, DevMinor: hs.Dev_minor,
		MntID: hs.Mnt_id, DioMemAlign: hs.Dio_mem_align, DioOffsetAlign: hs.Dio_offset_align,
		Subvol: hs.Subvol, AtomicWriteUnitMin: hs.Atomic_write_unit_min,
		AtomicWriteUnitMax: hs.Atomic_write_unit_max, AtomicWriteSegmentsMax: hs.Atomic_write_segments_max,
		DioReadOffsetAlign: hs.Dio_read_offset_align, AtomicWriteUnitMaxOpt: hs.Atomic_write_unit_max_opt,
	}
	var b [abi.SizeofStatx]byte
	sx.MarshalBytes(b[:])
	_, err = t.CopyOut(bufAddr, b[:])
	return 0, err
}

// copyOutStatfs writes a host statfs result to guest memory.
func (t *Task) copyOutStatfs(addr abi.Addr, hs *unix.Statfs_t) error {
	sf := abi.Statfs{
		Type: hs.Type, Bsize: hs.Bsize, Blocks: hs.Blocks, Bfree: hs.Bfree, Bavail: hs.Bavail,
		Files: hs.Files, Ffree: hs.Ffree, Fsid: hs.Fsid.Val, Namelen: hs.Namelen,
		Frsize: hs.Frsize, Flags: hs.Flags, Spare: hs.Spare,
	}
	var b [abi.SizeofStatfs]byte
	sf.MarshalBytes(b[:])
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Statfs implements Linux syscall statfs(2).
func Statfs(t *Task, a *Args) (uint64, error) {
	p, err := t.resolvePath(abi.AT_FDCWD, a.Addr(0), 0)
	if err != nil {
		return 0, err
	}
	defer p.release()
	host := p.path
	if p.synth != nil {
		if h := synthStatfsHost(p.synth.path); h != "" {
			host = h // the host's figures of the file system it stands for
		}
	}
	var hs unix.Statfs_t
	if err := unix.Statfs(host, &hs); err != nil {
		return 0, err
	}
	return 0, t.copyOutStatfs(a.Addr(1), &hs)
}

// Fstatfs implements Linux syscall fstatfs(2).
func Fstatfs(t *Task, a *Args) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	var hs unix.Statfs_t
	host := ""
	if p, _, ok := synthFD(f.FD()); ok {
		host = synthStatfsHost(p)
	}
	if host != "" {
		// As Statfs: not the memfd's tmpfs.
		err = unix.Statfs(host, &hs)
	} else {
		err = unix.Fstatfs(f.FD(), &hs)
	}
	if err != nil {
		return 0, err
	}
	return 0, t.copyOutStatfs(a.Addr(1), &hs)
}

// synthStatfsHost names the host file system whose figures statfs gives
// for synthetic path p: the host's /proc for the synthetic /proc (a
// procfs on Linux), the host's /dev for the synthetic /dev directory (a
// devtmpfs); "" for another path.
func synthStatfsHost(p string) string {
	switch {
	case p == "/proc" || strings.HasPrefix(p, "/proc/"):
		return "/proc"
	case p == "/dev" || strings.HasPrefix(p, "/dev/"):
		return "/dev"
	}
	return ""
}

// faccessat is the core of the access family. Without AT_EACCESS Linux
// checks with the real ids (and a real root's permitted set): where the
// host thread carries the guest's fs ids (creds_thread.go) the whole call
// runs with those instead, and asks the host with AT_EACCESS; the host's
// own real ids are elfuse's.
func (t *Task) faccessat(dirfd int32, pathAddr abi.Addr, mode uint32, flags int, v2 bool) (uint64, error) {
	if h := theHostIdentity(); h.enabled && flags&abi.AT_EACCESS == 0 {
		c := t.Proc.Creds()
		var ret uint64
		err := t.withCreds(h.forAccess(&c), func() error {
			var err error
			ret, err = t.faccessatAs(dirfd, pathAddr, mode, flags, unix.AT_EACCESS, v2)
			return err
		})
		return ret, err
	}
	return t.faccessatAs(dirfd, pathAddr, mode, flags, 0, v2)
}

// faccessatAs is faccessat with the thread's credentials as they are;
// extra are host flags added to the guest's.
func (t *Task) faccessatAs(dirfd int32, pathAddr abi.Addr, mode uint32, flags, extra int, v2 bool) (uint64, error) {
	p, err := t.resolvePath(dirfd, pathAddr, statPathFlags(flags))
	if err != nil {
		return 0, err
	}
	defer p.release()
	if fd, ok := p.object(); ok && flags&abi.AT_SYMLINK_NOFOLLOW == 0 {
		// The object itself (faccessat2's AT_EMPTY_PATH, Linux 5.8).
		err := unix.Faccessat2(fd, "", mode, flags&abi.AT_EACCESS|extra|unix.AT_EMPTY_PATH)
		if err != unix.ENOSYS && err != unix.EINVAL {
			return 0, err
		}
	}
	hdir, hname := p.at()
	if v2 {
		return 0, unix.Faccessat2(hdir, hname, mode, flags|extra)
	}
	return 0, unix.Faccessat(hdir, hname, mode, extra)
}

// Access implements Linux syscall access(2).
func Access(t *Task, a *Args) (uint64, error) {
	return t.faccessat(abi.AT_FDCWD, a.Addr(0), a.Uint(1), 0, false)
}

// Faccessat implements Linux syscall faccessat(2) (which has no flags).
func Faccessat(t *Task, a *Args) (uint64, error) {
	return t.faccessat(a.Int(0), a.Addr(1), a.Uint(2), 0, false)
}

// Faccessat2 implements Linux syscall faccessat2(2).
func Faccessat2(t *Task, a *Args) (uint64, error) {
	return t.faccessat(a.Int(0), a.Addr(1), a.Uint(2), int(a.Int(3)), true)
}
