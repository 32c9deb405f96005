package kernel

import (
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Host system calls whose arguments point into Go memory and that x/sys/unix
// does not wrap with the exact Linux semantics the guest needs (the raw
// return value, or a buffer size chosen by the caller).

// hostTimezone returns the host kernel's struct timezone (gettimeofday).
func hostTimezone() (abi.Timezone, error) {
	var tz abi.Timezone
	if _, _, e := unix.RawSyscall(unix.SYS_GETTIMEOFDAY, 0, uintptr(unsafe.Pointer(&tz)), 0); e != 0 {
		return abi.Timezone{}, e
	}
	return tz, nil
}

// hostSchedGetaffinity runs sched_getaffinity(tid, len(buf), buf) on the host
// and returns the byte count the kernel reports.
func hostSchedGetaffinity(tid int, buf []byte) (int, error) {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_SCHED_GETAFFINITY, uintptr(tid), uintptr(len(buf)), uintptr(p))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// hostSchedSetaffinity runs sched_setaffinity(tid, len(buf), buf) on the
// host (tid 0: the calling thread).
func hostSchedSetaffinity(tid int, buf []byte) error {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETAFFINITY, uintptr(tid), uintptr(len(buf)), uintptr(p)); e != 0 {
		return e
	}
	return nil
}

// hostSchedGetparam runs sched_getparam(tid) on the host.
func hostSchedGetparam(tid int) (abi.SchedParam, error) {
	var sp abi.SchedParam
	if _, _, e := unix.RawSyscall(unix.SYS_SCHED_GETPARAM, uintptr(tid), uintptr(unsafe.Pointer(&sp)), 0); e != 0 {
		return sp, e
	}
	return sp, nil
}

// hostSchedSetscheduler runs sched_setscheduler(tid, policy, sp) on the
// host, or sched_setparam(tid, sp) when policy is -1.
func hostSchedSetscheduler(tid int, policy int32, sp abi.SchedParam) error {
	var e unix.Errno
	if policy == -1 {
		_, _, e = unix.RawSyscall(unix.SYS_SCHED_SETPARAM, uintptr(tid), uintptr(unsafe.Pointer(&sp)), 0)
	} else {
		_, _, e = unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&sp)))
	}
	if e != 0 {
		return e
	}
	return nil
}

// hostSchedRRGetInterval runs sched_rr_get_interval(tid) on the host.
func hostSchedRRGetInterval(tid int) (abi.Timespec, error) {
	var ts abi.Timespec
	if _, _, e := unix.RawSyscall(unix.SYS_SCHED_RR_GET_INTERVAL, uintptr(tid), uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return ts, e
	}
	return ts, nil
}

// rawPpoll is ppoll(fds, ts, NULL) made without telling the Go scheduler
// (fd_wait_raw.go says when that is safe).
func rawPpoll(fds []unix.PollFd, ts *unix.Timespec) (int, error) {
	var p unsafe.Pointer
	if len(fds) > 0 {
		p = unsafe.Pointer(&fds[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(p), uintptr(len(fds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// hostSchedGetattr runs sched_getattr(tid, buf, len(buf), 0) on the host.
func hostSchedGetattr(tid int, buf []byte) error {
	if _, _, e := unix.RawSyscall6(unix.SYS_SCHED_GETATTR, uintptr(tid), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// hostSchedSetattr runs sched_setattr(tid, buf, flags) on the host; on
// E2BIG the host wrote the size it supports into buf.
func hostSchedSetattr(tid int, buf []byte, flags uint32) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETATTR, uintptr(tid), uintptr(unsafe.Pointer(&buf[0])), uintptr(flags)); e != 0 {
		return e
	}
	return nil
}
