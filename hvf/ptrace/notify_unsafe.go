package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompNotif is struct seccomp_notif (include/uapi/linux/seccomp.h).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// seccompResp is struct seccomp_notif_resp.
type seccompResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// ioctl requests of a seccomp listener: SECCOMP_IOWR(0, struct
// seccomp_notif) and SECCOMP_IOWR(1, struct seccomp_notif_resp).
const (
	seccompIoctlRecv = 0xc0502100
	seccompIoctlSend = 0xc0182101
)

// notifyRecv takes the next notification from listener fd without
// blocking the Go scheduler (the caller polled first).
func notifyRecv(fd int, n *seccompNotif) error {
	*n = seccompNotif{} // the kernel wants it zeroed
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlRecv, uintptr(unsafe.Pointer(n)))
	if e != 0 {
		return e
	}
	return nil
}

// notifySend answers notification id: the stub's syscall returns val.
func notifySend(fd int, id uint64, val uint64) error {
	r := seccompResp{ID: id, Val: int64(val)}
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlSend, uintptr(unsafe.Pointer(&r)))
	if e != 0 {
		return e
	}
	return nil
}

// notifyContinue answers notification id by letting the stub make the
// syscall itself (SECCOMP_USER_NOTIF_FLAG_CONTINUE, notify_defer.go).
func notifyContinue(fd int, id uint64) error {
	r := seccompResp{ID: id, Flags: 1}
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlSend, uintptr(unsafe.Pointer(&r)))
	if e != 0 {
		return e
	}
	return nil
}

// rawPoll waits up to timeoutNs for the listener or the kick eventfd to
// be readable, without telling the Go scheduler: a signal to the thread
// (the runtime's own preemption requests) ends it with EINTR. It returns
// the two descriptors' revents.
func rawPoll(listener, kick int, timeoutNs int64) (lrev, krev int16, err error) {
	p := [2]unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}, {Fd: int32(kick), Events: unix.POLLIN}}
	ts := unix.NsecToTimespec(timeoutNs)
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&p[0])), 2, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return 0, 0, e
	}
	if n == 0 {
		return 0, 0, nil
	}
	return p[0].Revents, p[1].Revents, nil
}

// rawWait4NoHang is wait4(pid, ws, __WALL|WNOHANG): the stop that is
// there, if any (pid 0: none).
func rawWait4NoHang(pid int, ws *unix.WaitStatus) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(ws)), unix.WALL|unix.WNOHANG, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
