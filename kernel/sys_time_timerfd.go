package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// timerfd descriptors are host timerfds: the host kernel keeps the timer
// and counts expirations, and read, poll and epoll on the descriptor go
// through the ordinary descriptor code like any other host file.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_TIMERFD_CREATE:  {Name: "timerfd_create", Fn: TimerfdCreate},
		abi.SYS_TIMERFD_SETTIME: {Name: "timerfd_settime", Fn: TimerfdSettime},
		abi.SYS_TIMERFD_GETTIME: {Name: "timerfd_gettime", Fn: TimerfdGettime},
	})
}

// TimerfdCreate implements Linux syscall timerfd_create(2).
func TimerfdCreate(t *Task, a *Args) (uint64, error) {
	clk, flags := a.Int(0), a.Int(1)
	if flags&^(abi.TFD_NONBLOCK|abi.TFD_CLOEXEC) != 0 {
		return 0, abi.EINVAL
	}
	switch clk {
	case abi.CLOCK_REALTIME, abi.CLOCK_MONOTONIC, abi.CLOCK_BOOTTIME,
		abi.CLOCK_REALTIME_ALARM, abi.CLOCK_BOOTTIME_ALARM:
	default:
		return 0, abi.EINVAL
	}
	// Host descriptors are always close-on-exec; the guest's flag lives in
	// the table.
	hfd, err := unix.TimerfdCreate(int(clk), int(flags&abi.TFD_NONBLOCK)|unix.TFD_CLOEXEC)
	if err != nil {
		return 0, err
	}
	fd, err := t.Proc.FDs.Install(hfd, flags&abi.TFD_CLOEXEC != 0, 0)
	if err != nil {
		unix.Close(hfd)
		return 0, err
	}
	return uint64(fd), nil
}

// TimerfdSettime implements Linux syscall timerfd_settime(2).
func TimerfdSettime(t *Task, a *Args) (uint64, error) {
	flags := a.Int(1)
	if flags&^(abi.TFD_TIMER_ABSTIME|abi.TFD_TIMER_CANCEL_ON_SET) != 0 {
		return 0, abi.EINVAL
	}
	b := make([]byte, abi.SizeofItimerspec)
	if _, err := t.CopyIn(a.Addr(2), b); err != nil {
		return 0, err
	}
	interval, value := abi.TimespecFromBytes(b), abi.TimespecFromBytes(b[abi.SizeofTimespec:])
	if !interval.Valid() || !value.Valid() {
		return 0, abi.EINVAL
	}
	hfd, err := t.Proc.FDs.Get(a.Int(0))
	if err != nil {
		return 0, err
	}
	newVal := unix.ItimerSpec{
		Interval: unix.Timespec{Sec: interval.Sec, Nsec: interval.Nsec},
		Value:    unix.Timespec{Sec: value.Sec, Nsec: value.Nsec},
	}
	var old unix.ItimerSpec
	if err := unix.TimerfdSettime(hfd, int(flags), &newVal, &old); err != nil {
		return 0, err
	}
	if p := a.Addr(3); p != 0 {
		if _, err := t.CopyOut(p, itimerspecBytes(old)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// TimerfdGettime implements Linux syscall timerfd_gettime(2).
func TimerfdGettime(t *Task, a *Args) (uint64, error) {
	hfd, err := t.Proc.FDs.Get(a.Int(0))
	if err != nil {
		return 0, err
	}
	var cur unix.ItimerSpec
	if err := unix.TimerfdGettime(hfd, &cur); err != nil {
		return 0, err
	}
	_, err = t.CopyOut(a.Addr(1), itimerspecBytes(cur))
	return 0, err
}

// itimerspecBytes encodes a struct itimerspec.
func itimerspecBytes(its unix.ItimerSpec) []byte {
	b := abi.Timespec{Sec: its.Interval.Sec, Nsec: its.Interval.Nsec}.Bytes()
	return append(b, abi.Timespec{Sec: its.Value.Sec, Nsec: its.Value.Nsec}.Bytes()...)
}
