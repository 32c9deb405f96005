package kernel

import (
	"errors"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Extended attributes: the path, l- (no follow) and f- (descriptor) forms
// of getxattr, setxattr, listxattr and removexattr, passed to the host's.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_GETXATTR:     {Name: "getxattr", Fn: Getxattr},
		abi.SYS_LGETXATTR:    {Name: "lgetxattr", Fn: Lgetxattr},
		abi.SYS_FGETXATTR:    {Name: "fgetxattr", Fn: Fgetxattr},
		abi.SYS_SETXATTR:     {Name: "setxattr", Fn: Setxattr},
		abi.SYS_LSETXATTR:    {Name: "lsetxattr", Fn: Lsetxattr},
		abi.SYS_FSETXATTR:    {Name: "fsetxattr", Fn: Fsetxattr},
		abi.SYS_LISTXATTR:    {Name: "listxattr", Fn: Listxattr},
		abi.SYS_LLISTXATTR:   {Name: "llistxattr", Fn: Llistxattr},
		abi.SYS_FLISTXATTR:   {Name: "flistxattr", Fn: Flistxattr},
		abi.SYS_REMOVEXATTR:  {Name: "removexattr", Fn: Removexattr},
		abi.SYS_LREMOVEXATTR: {Name: "lremovexattr", Fn: Lremovexattr},
		abi.SYS_FREMOVEXATTR: {Name: "fremovexattr", Fn: Fremovexattr},
	})
}

// xattrTarget is the file an xattr call acts on: a resolved path (follow
// or not) or a descriptor.
type xattrTarget struct {
	path     hostPath
	noFollow bool
	file     *HostFile
}

// xattrPath resolves the path argument of the path and l- forms.
func (t *Task) xattrPath(addr abi.Addr, noFollow bool) (*xattrTarget, error) {
	pf := pathFlags(0)
	if noFollow {
		pf = pathNoFollow
	}
	p, err := t.resolvePath(abi.AT_FDCWD, addr, pf)
	if err != nil {
		return nil, err
	}
	return &xattrTarget{path: p, noFollow: noFollow}, nil
}

// xattrFD takes the descriptor of the f- forms.
func (t *Task) xattrFD(fd int32) (*xattrTarget, error) {
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return nil, err
	}
	return &xattrTarget{file: f}, nil
}

func (x *xattrTarget) release() {
	if x.file != nil {
		x.file.Release()
	}
	x.path.release()
}

// copyInXattrName reads an attribute name: ERANGE when empty or longer than
// XATTR_NAME_MAX, as Linux.
func (t *Task) copyInXattrName(addr abi.Addr) (string, error) {
	name, err := t.CopyInString(addr, abi.XATTR_NAME_MAX)
	if errors.Is(err, abi.ENAMETOOLONG) || (err == nil && name == "") {
		return "", abi.ERANGE
	}
	return name, err
}

// xattrGet is the core of the getxattr family.
func (t *Task) xattrGet(x *xattrTarget, err error, nameAddr, valAddr abi.Addr, size uint64) (uint64, error) {
	if err != nil {
		return 0, err
	}
	defer x.release()
	name, err := t.copyInXattrName(nameAddr)
	if err != nil {
		return 0, err
	}
	buf, err := t.ioBuf(valAddr, min(size, abi.XATTR_SIZE_MAX), true)
	if err != nil {
		return 0, err
	}
	var n int
	switch {
	case x.file != nil:
		n, err = unix.Fgetxattr(x.file.FD(), name, buf)
	case x.noFollow:
		n, err = unix.Lgetxattr(x.path.path, name, buf)
	default:
		n, err = unix.Getxattr(x.path.path, name, buf)
	}
	return uint64(n), err
}

// Getxattr implements Linux syscall getxattr(2).
func Getxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), false)
	return t.xattrGet(x, err, a.Addr(1), a.Addr(2), a[3])
}

// Lgetxattr implements Linux syscall lgetxattr(2).
func Lgetxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), true)
	return t.xattrGet(x, err, a.Addr(1), a.Addr(2), a[3])
}

// Fgetxattr implements Linux syscall fgetxattr(2).
func Fgetxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrFD(a.Int(0))
	return t.xattrGet(x, err, a.Addr(1), a.Addr(2), a[3])
}

// xattrSet is the core of the setxattr family.
func (t *Task) xattrSet(x *xattrTarget, err error, nameAddr, valAddr abi.Addr, size uint64, flags int) (uint64, error) {
	if err != nil {
		return 0, err
	}
	defer x.release()
	if flags&^(abi.XATTR_CREATE|abi.XATTR_REPLACE) != 0 {
		return 0, abi.EINVAL
	}
	name, err := t.copyInXattrName(nameAddr)
	if err != nil {
		return 0, err
	}
	if size > abi.XATTR_SIZE_MAX {
		return 0, abi.E2BIG
	}
	val := make([]byte, size)
	if _, err := t.CopyIn(valAddr, val); err != nil && size > 0 {
		return 0, err
	}
	switch {
	case x.file != nil:
		return 0, unix.Fsetxattr(x.file.FD(), name, val, flags)
	case x.noFollow:
		return 0, unix.Lsetxattr(x.path.path, name, val, flags)
	}
	return 0, unix.Setxattr(x.path.path, name, val, flags)
}

// Setxattr implements Linux syscall setxattr(2).
func Setxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), false)
	return t.xattrSet(x, err, a.Addr(1), a.Addr(2), a[3], int(a.Int(4)))
}

// Lsetxattr implements Linux syscall lsetxattr(2).
func Lsetxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), true)
	return t.xattrSet(x, err, a.Addr(1), a.Addr(2), a[3], int(a.Int(4)))
}

// Fsetxattr implements Linux syscall fsetxattr(2).
func Fsetxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrFD(a.Int(0))
	return t.xattrSet(x, err, a.Addr(1), a.Addr(2), a[3], int(a.Int(4)))
}

// xattrList is the core of the listxattr family.
func (t *Task) xattrList(x *xattrTarget, err error, listAddr abi.Addr, size uint64) (uint64, error) {
	if err != nil {
		return 0, err
	}
	defer x.release()
	buf, err := t.ioBuf(listAddr, min(size, abi.XATTR_SIZE_MAX), true)
	if err != nil {
		return 0, err
	}
	var n int
	switch {
	case x.file != nil:
		n, err = unix.Flistxattr(x.file.FD(), buf)
	case x.noFollow:
		n, err = unix.Llistxattr(x.path.path, buf)
	default:
		n, err = unix.Listxattr(x.path.path, buf)
	}
	return uint64(n), err
}

// Listxattr implements Linux syscall listxattr(2).
func Listxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), false)
	return t.xattrList(x, err, a.Addr(1), a[2])
}

// Llistxattr implements Linux syscall llistxattr(2).
func Llistxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), true)
	return t.xattrList(x, err, a.Addr(1), a[2])
}

// Flistxattr implements Linux syscall flistxattr(2).
func Flistxattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrFD(a.Int(0))
	return t.xattrList(x, err, a.Addr(1), a[2])
}

// xattrRemove is the core of the removexattr family.
func (t *Task) xattrRemove(x *xattrTarget, err error, nameAddr abi.Addr) (uint64, error) {
	if err != nil {
		return 0, err
	}
	defer x.release()
	name, err := t.copyInXattrName(nameAddr)
	if err != nil {
		return 0, err
	}
	switch {
	case x.file != nil:
		return 0, unix.Fremovexattr(x.file.FD(), name)
	case x.noFollow:
		return 0, unix.Lremovexattr(x.path.path, name)
	}
	return 0, unix.Removexattr(x.path.path, name)
}

// Removexattr implements Linux syscall removexattr(2).
func Removexattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), false)
	return t.xattrRemove(x, err, a.Addr(1))
}

// Lremovexattr implements Linux syscall lremovexattr(2).
func Lremovexattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrPath(a.Addr(0), true)
	return t.xattrRemove(x, err, a.Addr(1))
}

// Fremovexattr implements Linux syscall fremovexattr(2).
func Fremovexattr(t *Task, a *Args) (uint64, error) {
	x, err := t.xattrFD(a.Int(0))
	return t.xattrRemove(x, err, a.Addr(1))
}
