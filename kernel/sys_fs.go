package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Name-space operations: directories, links, renames, permissions,
// ownership, truncation and special files. Each resolves its guest paths
// with resolvePath and calls the host's *at syscall.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_MKDIR:      {Name: "mkdir", Fn: Mkdir},
		abi.SYS_MKDIRAT:    {Name: "mkdirat", Fn: Mkdirat},
		abi.SYS_RMDIR:      {Name: "rmdir", Fn: Rmdir},
		abi.SYS_UNLINK:     {Name: "unlink", Fn: Unlink},
		abi.SYS_UNLINKAT:   {Name: "unlinkat", Fn: Unlinkat},
		abi.SYS_RENAME:     {Name: "rename", Fn: Rename},
		abi.SYS_RENAMEAT:   {Name: "renameat", Fn: Renameat},
		abi.SYS_RENAMEAT2:  {Name: "renameat2", Fn: Renameat2},
		abi.SYS_LINK:       {Name: "link", Fn: Link},
		abi.SYS_LINKAT:     {Name: "linkat", Fn: Linkat},
		abi.SYS_SYMLINK:    {Name: "symlink", Fn: Symlink},
		abi.SYS_SYMLINKAT:  {Name: "symlinkat", Fn: Symlinkat},
		abi.SYS_READLINK:   {Name: "readlink", Fn: Readlink},
		abi.SYS_READLINKAT: {Name: "readlinkat", Fn: Readlinkat},
		abi.SYS_CHMOD:      {Name: "chmod", Fn: Chmod},
		abi.SYS_FCHMOD:     {Name: "fchmod", Fn: Fchmod},
		abi.SYS_FCHMODAT:   {Name: "fchmodat", Fn: Fchmodat},
		abi.SYS_FCHMODAT2:  {Name: "fchmodat2", Fn: Fchmodat2},
		abi.SYS_CHOWN:      {Name: "chown", Fn: Chown},
		abi.SYS_LCHOWN:     {Name: "lchown", Fn: Lchown},
		abi.SYS_FCHOWN:     {Name: "fchown", Fn: Fchown},
		abi.SYS_FCHOWNAT:   {Name: "fchownat", Fn: Fchownat},
		abi.SYS_TRUNCATE:   {Name: "truncate", Fn: Truncate},
		abi.SYS_FTRUNCATE:  {Name: "ftruncate", Fn: Ftruncate},
		abi.SYS_MKNOD:      {Name: "mknod", Fn: Mknod},
		abi.SYS_MKNODAT:    {Name: "mknodat", Fn: Mknodat},
		abi.SYS_UMASK:      {Name: "umask", Fn: Umask},
		abi.SYS_NAME_TO_HANDLE_AT: {Name: "name_to_handle_at", Fn: NameToHandleAt, Support: Stub,
			Note: "always ENOSYS: file handles would expose host inodes; callers fall back to paths"},
	})
}

// atPath runs op on one resolved guest path.
func (t *Task) atPath(dirfd int32, pathAddr abi.Addr, pf pathFlags, op func(p hostPath) error) (uint64, error) {
	p, err := t.resolvePath(dirfd, pathAddr, pf)
	if err != nil {
		return 0, err
	}
	defer p.release()
	return 0, op(p)
}

// atPath2 runs op on two resolved guest paths (rename, link).
func (t *Task) atPath2(olddir int32, oldAddr abi.Addr, oldFlags pathFlags, newdir int32, newAddr abi.Addr,
	op func(oldp, newp hostPath) error) (uint64, error) {
	oldp, err := t.resolvePath(olddir, oldAddr, oldFlags)
	if err != nil {
		return 0, err
	}
	defer oldp.release()
	// The new name is created or replaced, never followed.
	newp, err := t.resolvePath(newdir, newAddr, pathNoFollow|pathWrite)
	if err != nil {
		return 0, err
	}
	defer newp.release()
	return 0, op(oldp, newp)
}

// Mkdir implements Linux syscall mkdir(2).
func Mkdir(t *Task, a *Args) (uint64, error) {
	return t.mkdirat(abi.AT_FDCWD, a.Addr(0), a.Uint(1))
}

// Mkdirat implements Linux syscall mkdirat(2).
func Mkdirat(t *Task, a *Args) (uint64, error) {
	return t.mkdirat(a.Int(0), a.Addr(1), a.Uint(2))
}

func (t *Task) mkdirat(dirfd int32, pathAddr abi.Addr, mode uint32) (uint64, error) {
	return t.atPath(dirfd, pathAddr, pathNoFollow|pathWrite, func(p hostPath) error {
		return unix.Mkdirat(p.dirfd, p.path, mode&0o7777)
	})
}

// Rmdir implements Linux syscall rmdir(2).
func Rmdir(t *Task, a *Args) (uint64, error) {
	return t.unlinkat(abi.AT_FDCWD, a.Addr(0), abi.AT_REMOVEDIR)
}

// Unlink implements Linux syscall unlink(2).
func Unlink(t *Task, a *Args) (uint64, error) {
	return t.unlinkat(abi.AT_FDCWD, a.Addr(0), 0)
}

// Unlinkat implements Linux syscall unlinkat(2).
func Unlinkat(t *Task, a *Args) (uint64, error) {
	return t.unlinkat(a.Int(0), a.Addr(1), int(a.Int(2)))
}

func (t *Task) unlinkat(dirfd int32, pathAddr abi.Addr, flags int) (uint64, error) {
	if flags&^abi.AT_REMOVEDIR != 0 {
		return 0, abi.EINVAL
	}
	return t.atPath(dirfd, pathAddr, pathNoFollow|pathWrite, func(p hostPath) error {
		return unix.Unlinkat(p.dirfd, p.path, flags)
	})
}

// Rename implements Linux syscall rename(2).
func Rename(t *Task, a *Args) (uint64, error) {
	return t.renameat2(abi.AT_FDCWD, a.Addr(0), abi.AT_FDCWD, a.Addr(1), 0)
}

// Renameat implements Linux syscall renameat(2).
func Renameat(t *Task, a *Args) (uint64, error) {
	return t.renameat2(a.Int(0), a.Addr(1), a.Int(2), a.Addr(3), 0)
}

// Renameat2 implements Linux syscall renameat2(2).
func Renameat2(t *Task, a *Args) (uint64, error) {
	return t.renameat2(a.Int(0), a.Addr(1), a.Int(2), a.Addr(3), uint(a.Uint(4)))
}

func (t *Task) renameat2(olddir int32, oldAddr abi.Addr, newdir int32, newAddr abi.Addr, flags uint) (uint64, error) {
	return t.atPath2(olddir, oldAddr, pathNoFollow|pathWrite, newdir, newAddr, func(o, n hostPath) error {
		return unix.Renameat2(o.dirfd, o.path, n.dirfd, n.path, flags)
	})
}

// Link implements Linux syscall link(2).
func Link(t *Task, a *Args) (uint64, error) {
	return t.linkat(abi.AT_FDCWD, a.Addr(0), abi.AT_FDCWD, a.Addr(1), 0)
}

// Linkat implements Linux syscall linkat(2).
func Linkat(t *Task, a *Args) (uint64, error) {
	return t.linkat(a.Int(0), a.Addr(1), a.Int(2), a.Addr(3), int(a.Int(4)))
}

func (t *Task) linkat(olddir int32, oldAddr abi.Addr, newdir int32, newAddr abi.Addr, flags int) (uint64, error) {
	if flags&^(abi.AT_SYMLINK_FOLLOW|abi.AT_EMPTY_PATH) != 0 {
		return 0, abi.EINVAL
	}
	pf := pathNoFollow
	if flags&abi.AT_SYMLINK_FOLLOW != 0 {
		pf = 0
	}
	if flags&abi.AT_EMPTY_PATH != 0 {
		pf |= pathAllowEmpty
	}
	return t.atPath2(olddir, oldAddr, pf, newdir, newAddr, func(o, n hostPath) error {
		return unix.Linkat(o.dirfd, o.path, n.dirfd, n.path, flags)
	})
}

// Symlink implements Linux syscall symlink(2).
func Symlink(t *Task, a *Args) (uint64, error) {
	return t.symlinkat(a.Addr(0), abi.AT_FDCWD, a.Addr(1))
}

// Symlinkat implements Linux syscall symlinkat(2).
func Symlinkat(t *Task, a *Args) (uint64, error) {
	return t.symlinkat(a.Addr(0), a.Int(1), a.Addr(2))
}

// symlinkat stores target verbatim: a link's content is not a path to
// resolve now.
func (t *Task) symlinkat(targetAddr abi.Addr, dirfd int32, pathAddr abi.Addr) (uint64, error) {
	target, err := t.copyInPath(targetAddr)
	if err != nil {
		return 0, err
	}
	if target == "" {
		return 0, abi.ENOENT
	}
	return t.atPath(dirfd, pathAddr, pathNoFollow|pathWrite, func(p hostPath) error {
		return unix.Symlinkat(target, p.dirfd, p.path)
	})
}

// Readlink implements Linux syscall readlink(2).
func Readlink(t *Task, a *Args) (uint64, error) {
	return t.readlinkat(abi.AT_FDCWD, a.Addr(0), a.Addr(1), int32(a[2]))
}

// Readlinkat implements Linux syscall readlinkat(2).
func Readlinkat(t *Task, a *Args) (uint64, error) {
	return t.readlinkat(a.Int(0), a.Addr(1), a.Addr(2), int32(a[3]))
}

// readlinkat answers /proc/self/exe from the guest's image path; every
// other link is the host's. The result is truncated to size, without NUL.
func (t *Task) readlinkat(dirfd int32, pathAddr, bufAddr abi.Addr, size int32) (uint64, error) {
	if size <= 0 {
		return 0, abi.EINVAL
	}
	path, err := t.copyInPath(pathAddr)
	if err != nil {
		return 0, err
	}
	// exeLink canonicalises the image path (an lstat per component):
	// only for the one path that needs it, not for every readlink.
	if isProcSelfExe(path) {
		if exe := t.exeLink(); exe != "" {
			b := []byte(exe)[:min(len(exe), int(size))]
			if _, err := t.CopyOut(bufAddr, b); err != nil {
				return 0, err
			}
			return uint64(len(b)), nil
		}
	}
	p, err := t.resolvePathString(dirfd, path, pathAllowEmpty|pathNoFollow)
	if err != nil {
		return 0, err
	}
	defer p.release()
	buf, err := t.ioBuf(bufAddr, uint64(size), true)
	if err != nil {
		return 0, err
	}
	if p.synth != nil {
		return t.synthReadlink(p.synth, bufAddr, int(size))
	}
	if r := t.root(); r != nil && p.magic {
		return t.readMagicLink(r, p, bufAddr, int(size))
	}
	hdir, hname := p.at()
	n, err := unix.Readlinkat(hdir, hname, buf)
	if err != nil {
		return 0, err
	}
	if g, ok := synthOfMarker(string(buf[:n])); ok {
		// A descriptor on a synthetic directory: its host stand-in
		// must not show.
		n = copy(buf, g)
	}
	return uint64(n), nil
}

// Chmod implements Linux syscall chmod(2).
func Chmod(t *Task, a *Args) (uint64, error) {
	return t.fchmodat(abi.AT_FDCWD, a.Addr(0), a.Uint(1))
}

// Fchmodat implements Linux syscall fchmodat(2) (which has no flags).
func Fchmodat(t *Task, a *Args) (uint64, error) {
	return t.fchmodat(a.Int(0), a.Addr(1), a.Uint(2))
}

func (t *Task) fchmodat(dirfd int32, pathAddr abi.Addr, mode uint32) (uint64, error) {
	return t.atPath(dirfd, pathAddr, pathWrite, func(p hostPath) error {
		return unix.Fchmodat(p.dirfd, p.path, mode&0o7777, 0)
	})
}

// Fchmodat2 implements Linux syscall fchmodat2(2): fchmodat with flags
// (AT_SYMLINK_NOFOLLOW: a symlink's mode cannot change, EOPNOTSUPP;
// AT_EMPTY_PATH: dirfd itself), answered by the host's fchmodat2 on the
// resolved path.
func Fchmodat2(t *Task, a *Args) (uint64, error) {
	flags := int(a.Int(3))
	if flags&^(abi.AT_SYMLINK_NOFOLLOW|abi.AT_EMPTY_PATH) != 0 {
		return 0, abi.EINVAL
	}
	mode := a.Uint(2) & 0o7777
	return t.atPath(a.Int(0), a.Addr(1), statPathFlags(flags)|pathWrite, func(p hostPath) error {
		if fd, ok := p.object(); ok {
			return hostFchmodat2(fd, "", mode, unix.AT_EMPTY_PATH)
		}
		d, name := p.at()
		hflags := flags & abi.AT_SYMLINK_NOFOLLOW
		if name == "" {
			hflags |= unix.AT_EMPTY_PATH
		}
		return hostFchmodat2(d, name, mode, hflags)
	})
}

// Fchmod implements Linux syscall fchmod(2).
func Fchmod(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error { return unix.Fchmod(h, a.Uint(1)&0o7777) })
}

// Chown implements Linux syscall chown(2).
func Chown(t *Task, a *Args) (uint64, error) {
	return t.fchownat(abi.AT_FDCWD, a.Addr(0), a.Int(1), a.Int(2), 0)
}

// Lchown implements Linux syscall lchown(2).
func Lchown(t *Task, a *Args) (uint64, error) {
	return t.fchownat(abi.AT_FDCWD, a.Addr(0), a.Int(1), a.Int(2), abi.AT_SYMLINK_NOFOLLOW)
}

// Fchownat implements Linux syscall fchownat(2).
func Fchownat(t *Task, a *Args) (uint64, error) {
	return t.fchownat(a.Int(0), a.Addr(1), a.Int(2), a.Int(3), int(a.Int(4)))
}

func (t *Task) fchownat(dirfd int32, pathAddr abi.Addr, uid, gid int32, flags int) (uint64, error) {
	return t.atPath(dirfd, pathAddr, statPathFlags(flags)|pathWrite, func(p hostPath) error {
		return unix.Fchownat(p.dirfd, p.path, int(uid), int(gid), flags)
	})
}

// Fchown implements Linux syscall fchown(2).
func Fchown(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error { return unix.Fchown(h, int(a.Int(1)), int(a.Int(2))) })
}

// Truncate implements Linux syscall truncate(2).
func Truncate(t *Task, a *Args) (uint64, error) {
	return t.atPath(abi.AT_FDCWD, a.Addr(0), pathWrite, func(p hostPath) error {
		var st unix.Stat_t
		if unix.Stat(p.path, &st) == nil {
			if err := t.textBusy(&st); err != nil { // textbusy.go
				return err
			}
		}
		if err := t.fsizeResize(int64(a[1])); err != nil { // rlimit_fsize.go
			return err
		}
		return unix.Truncate(p.path, int64(a[1]))
	})
}

// Ftruncate implements Linux syscall ftruncate(2).
func Ftruncate(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error {
		var st unix.Stat_t
		if _, limited := t.Proc.fsizeLimit(); limited && unix.Fstat(h, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			if err := t.fsizeResize(int64(a[1])); err != nil { // rlimit_fsize.go
				return err
			}
		}
		return unix.Ftruncate(h, int64(a[1]))
	})
}

// Mknod implements Linux syscall mknod(2).
func Mknod(t *Task, a *Args) (uint64, error) {
	return t.mknodat(abi.AT_FDCWD, a.Addr(0), a.Uint(1), a.Uint(2))
}

// Mknodat implements Linux syscall mknodat(2).
func Mknodat(t *Task, a *Args) (uint64, error) {
	return t.mknodat(a.Int(0), a.Addr(1), a.Uint(2), a.Uint(3))
}

func (t *Task) mknodat(dirfd int32, pathAddr abi.Addr, mode, dev uint32) (uint64, error) {
	if err := t.checkDeviceNode(mode); err != nil {
		return 0, err
	}
	return t.atPath(dirfd, pathAddr, pathNoFollow|pathWrite, func(p hostPath) error {
		return unix.Mknodat(p.dirfd, p.path, mode, int(dev))
	})
}

// Umask implements Linux syscall umask(2). The guest's umask is the
// guestproc's: host files are created by host syscalls, which apply it.
func Umask(t *Task, a *Args) (uint64, error) {
	return uint64(unix.Umask(int(a.Uint(0) & 0o777))), nil
}

// NameToHandleAt implements Linux syscall name_to_handle_at(2) as ENOSYS.
func NameToHandleAt(t *Task, a *Args) (uint64, error) {
	return 0, abi.ENOSYS
}

// withFD runs op on the host descriptor behind guest fd.
func (t *Task) withFD(fd int32, op func(host int) error) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return 0, err
	}
	defer f.Release()
	return 0, op(f.FD())
}
