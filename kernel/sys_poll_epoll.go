package kernel

import (
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// epoll(7): a guest epoll instance is a host one. epoll_ctl registers the
// host descriptor behind the guest's and passes the guest's event data
// through untouched, so epoll_wait hands back exactly what the guest
// registered. The wait itself is waitEpoll (fd_wait.go).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_EPOLL_CREATE:  {Name: "epoll_create", Fn: EpollCreate},
		abi.SYS_EPOLL_CREATE1: {Name: "epoll_create1", Fn: EpollCreate1},
		abi.SYS_EPOLL_CTL:     {Name: "epoll_ctl", Fn: EpollCtl},
		abi.SYS_EPOLL_WAIT:    {Name: "epoll_wait", Fn: EpollWait},
		abi.SYS_EPOLL_PWAIT: {Name: "epoll_pwait", Fn: EpollPwait, Support: Partial,
			Note: "the sigmask is installed for the wait, but guest signals cannot interrupt host waits yet"},
		abi.SYS_EPOLL_PWAIT2: {Name: "epoll_pwait2", Fn: EpollPwait2, Support: Partial,
			Note: "the sigmask is installed for the wait, but guest signals cannot interrupt host waits yet"},
	})
}

// EpollCreate implements Linux syscall epoll_create(2).
func EpollCreate(t *Task, a *Args) (uint64, error) {
	if a.Int(0) <= 0 {
		return 0, abi.EINVAL
	}
	return t.epollCreate1(0)
}

// EpollCreate1 implements Linux syscall epoll_create1(2).
func EpollCreate1(t *Task, a *Args) (uint64, error) {
	return t.epollCreate1(int(a.Int(0)))
}

func (t *Task) epollCreate1(flags int) (uint64, error) {
	if flags&^abi.EPOLL_CLOEXEC != 0 {
		return 0, abi.EINVAL
	}
	h, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return 0, err
	}
	return t.installHost(h, flags&abi.EPOLL_CLOEXEC != 0)
}

// EpollCtl implements Linux syscall epoll_ctl(2).
func EpollCtl(t *Task, a *Args) (uint64, error) {
	epfd, op, fd, evAddr := a.Int(0), int(a.Int(1)), a.Int(2), a.Addr(3)
	var ev abi.EpollEvent
	if op != abi.EPOLL_CTL_DEL {
		var b [abi.SizeofEpollEvent]byte
		if _, err := t.CopyIn(evAddr, b[:]); err != nil {
			return 0, err
		}
		ev.UnmarshalBytes(b[:])
	}
	ep, err := t.Proc.FDs.Acquire(epfd)
	if err != nil {
		return 0, err
	}
	defer ep.Release()
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return 0, err
	}
	defer f.Release()
	hev := unix.EpollEvent{Events: ev.Events, Fd: int32(ev.Data), Pad: int32(ev.Data >> 32)}
	return 0, unix.EpollCtl(ep.FD(), op, f.FD(), &hev)
}

// maxEpollBatch bounds the host event buffer of one epoll_wait; a guest
// asking for more gets at most this many per call, which Linux allows.
const maxEpollBatch = 1024

// epollWait is the core of the epoll_wait family.
func (t *Task) epollWait(epfd int32, evAddr abi.Addr, maxEvents int32, dl deadline) (uint64, error) {
	if maxEvents <= 0 || maxEvents > abi.EP_MAX_EVENTS {
		return 0, abi.EINVAL
	}
	ep, err := t.Proc.FDs.Acquire(epfd)
	if err != nil {
		return 0, err
	}
	defer ep.Release()
	// Linux checks the whole output array before waiting.
	if _, err := t.Slice(evAddr, int(maxEvents)*abi.SizeofEpollEvent, true); err != nil {
		return 0, abi.EFAULT
	}
	hev := make([]unix.EpollEvent, min(maxEvents, maxEpollBatch))
	n, err := t.waitEpoll(ep.FD(), hev, dl)
	if err != nil {
		return 0, err
	}
	out := make([]byte, n*abi.SizeofEpollEvent)
	for i := range n {
		ev := abi.EpollEvent{Events: hev[i].Events, Data: uint64(uint32(hev[i].Fd)) | uint64(uint32(hev[i].Pad))<<32}
		ev.MarshalBytes(out[i*abi.SizeofEpollEvent:])
	}
	if err := t.copyOutAll(evAddr, out); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// msDeadline converts an epoll/poll millisecond timeout (negative:
// forever).
func msDeadline(ms int32) deadline {
	if ms < 0 {
		return deadline{forever: true}
	}
	return deadlineAfter(time.Duration(ms) * time.Millisecond)
}

// EpollWait implements Linux syscall epoll_wait(2).
func EpollWait(t *Task, a *Args) (uint64, error) {
	return t.epollWait(a.Int(0), a.Addr(1), a.Int(2), msDeadline(a.Int(3)))
}

// EpollPwait implements Linux syscall epoll_pwait(2).
func EpollPwait(t *Task, a *Args) (uint64, error) {
	return t.withSigmask(a.Addr(4), a[5], func() (uint64, error) {
		return t.epollWait(a.Int(0), a.Addr(1), a.Int(2), msDeadline(a.Int(3)))
	})
}

// EpollPwait2 implements Linux syscall epoll_pwait2(2) (timespec timeout).
func EpollPwait2(t *Task, a *Args) (uint64, error) {
	dl, err := t.copyInPollDeadline(a.Addr(3))
	if err != nil {
		return 0, err
	}
	return t.withSigmask(a.Addr(4), a[5], func() (uint64, error) {
		return t.epollWait(a.Int(0), a.Addr(1), a.Int(2), dl)
	})
}
