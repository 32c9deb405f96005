package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// inotify(7): a guest inotify instance is a host one; events are read with
// read(2), whose struct inotify_event is the same on both sides.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_INOTIFY_INIT:      {Name: "inotify_init", Fn: InotifyInit},
		abi.SYS_INOTIFY_INIT1:     {Name: "inotify_init1", Fn: InotifyInit1},
		abi.SYS_INOTIFY_ADD_WATCH: {Name: "inotify_add_watch", Fn: InotifyAddWatch},
		abi.SYS_INOTIFY_RM_WATCH:  {Name: "inotify_rm_watch", Fn: InotifyRmWatch},
	})
}

// InotifyInit implements Linux syscall inotify_init(2).
func InotifyInit(t *Task, a *Args) (uint64, error) {
	return t.inotifyInit1(0)
}

// InotifyInit1 implements Linux syscall inotify_init1(2).
func InotifyInit1(t *Task, a *Args) (uint64, error) {
	return t.inotifyInit1(int(a.Int(0)))
}

func (t *Task) inotifyInit1(flags int) (uint64, error) {
	if flags&^(abi.IN_CLOEXEC|abi.IN_NONBLOCK) != 0 {
		return 0, abi.EINVAL
	}
	h, err := unix.InotifyInit1(flags | unix.IN_CLOEXEC)
	if err != nil {
		return 0, err
	}
	return t.installHost(h, flags&abi.IN_CLOEXEC != 0)
}

// InotifyAddWatch implements Linux syscall inotify_add_watch(2).
func InotifyAddWatch(t *Task, a *Args) (uint64, error) {
	mask := a.Uint(2)
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	pf := pathFlags(0)
	if mask&abi.IN_DONT_FOLLOW != 0 {
		pf = pathNoFollow
	}
	p, err := t.resolvePath(abi.AT_FDCWD, a.Addr(1), pf)
	if err != nil {
		return 0, err
	}
	defer p.release()
	wd, err := unix.InotifyAddWatch(f.FD(), p.path, mask)
	return uint64(wd), err
}

// InotifyRmWatch implements Linux syscall inotify_rm_watch(2).
func InotifyRmWatch(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error {
		_, err := unix.InotifyRmWatch(h, a.Uint(1))
		return err
	})
}
