package abi

import "encoding/binary"

// Clock ids (include/uapi/linux/time.h).
const (
	CLOCK_REALTIME           = 0
	CLOCK_MONOTONIC          = 1
	CLOCK_PROCESS_CPUTIME_ID = 2
	CLOCK_THREAD_CPUTIME_ID  = 3
	CLOCK_MONOTONIC_RAW      = 4
	CLOCK_REALTIME_COARSE    = 5
	CLOCK_MONOTONIC_COARSE   = 6
	CLOCK_BOOTTIME           = 7
	CLOCK_REALTIME_ALARM     = 8
	CLOCK_BOOTTIME_ALARM     = 9
	CLOCK_TAI                = 11
)

// Dynamic CPU clock encoding (include/linux/posix-timers.h): a negative
// clock id holds ~pid<<3 | per-thread bit (4) | clock kind (0 PROF, 1 VIRT,
// 2 SCHED); kind 3 is CLOCKFD.
const (
	CPUCLOCK_PROF           = 0
	CPUCLOCK_VIRT           = 1
	CPUCLOCK_SCHED          = 2
	CPUCLOCK_MAX            = 3
	CLOCKFD                 = CPUCLOCK_MAX
	CPUCLOCK_PERTHREAD_MASK = 4
	CPUCLOCK_CLOCK_MASK     = 3
)

// TIMER_ABSTIME makes clock_nanosleep's request an absolute time.
const TIMER_ABSTIME = 1

// CLK_TCK is the USER_HZ unit of clock_t values (times(2), /proc).
const CLK_TCK = 100

// Nanoseconds returns ts in nanoseconds, saturating at the int64 limit.
func (ts Timespec) Nanoseconds() int64 {
	const maxSec = (1<<63 - 1) / 1000000000
	if ts.Sec >= maxSec {
		return 1<<63 - 1
	}
	return ts.Sec*1e9 + ts.Nsec
}

// NsecToTimespec converts nanoseconds to a Timespec.
func NsecToTimespec(ns int64) Timespec { return Timespec{Sec: ns / 1e9, Nsec: ns % 1e9} }

// Bytes returns the Linux encoding of ts.
func (ts Timespec) Bytes() []byte {
	b := make([]byte, SizeofTimespec)
	binary.LittleEndian.PutUint64(b[0:], uint64(ts.Sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(ts.Nsec))
	return b
}

// TimespecFromBytes decodes a struct timespec; b holds at least 16 bytes.
func TimespecFromBytes(b []byte) Timespec {
	return Timespec{
		Sec:  int64(binary.LittleEndian.Uint64(b[0:])),
		Nsec: int64(binary.LittleEndian.Uint64(b[8:])),
	}
}

// Bytes returns the Linux encoding of tv.
func (tv Timeval) Bytes() []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b[0:], uint64(tv.Sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(tv.Usec))
	return b
}

// Timezone is struct timezone (gettimeofday's second argument).
type Timezone struct {
	Minuteswest int32
	Dsttime     int32
}

// Tms is struct tms (times(2)): clock_t values in CLK_TCK units.
type Tms struct {
	Utime  int64
	Stime  int64
	Cutime int64
	Cstime int64
}

// timerfd_create(2) and timerfd_settime(2) flags.
const (
	TFD_NONBLOCK            = 0x800
	TFD_CLOEXEC             = 0x80000
	TFD_TIMER_ABSTIME       = 1
	TFD_TIMER_CANCEL_ON_SET = 2
)

// SizeofItimerspec is sizeof(struct itimerspec): it_interval, it_value.
const SizeofItimerspec = 2 * SizeofTimespec
