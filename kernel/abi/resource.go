package abi

// Resource limits (include/uapi/asm-generic/resource.h).
const (
	RLIMIT_CPU        = 0
	RLIMIT_FSIZE      = 1
	RLIMIT_DATA       = 2
	RLIMIT_STACK      = 3
	RLIMIT_CORE       = 4
	RLIMIT_RSS        = 5
	RLIMIT_NPROC      = 6
	RLIMIT_NOFILE     = 7
	RLIMIT_MEMLOCK    = 8
	RLIMIT_AS         = 9
	RLIMIT_LOCKS      = 10
	RLIMIT_SIGPENDING = 11
	RLIMIT_MSGQUEUE   = 12
	RLIMIT_NICE       = 13
	RLIMIT_RTPRIO     = 14
	RLIMIT_RTTIME     = 15
	RLIM_NLIMITS      = 16
)

// RLIM_INFINITY is the "no limit" value of struct rlimit64.
const RLIM_INFINITY = ^uint64(0)

// Rlimit is struct rlimit64 (also struct rlimit on x86-64).
type Rlimit struct {
	Cur uint64
	Max uint64
}

// SizeofRlimit is sizeof(struct rlimit64).
const SizeofRlimit = 16

// getrusage(2) targets.
const (
	RUSAGE_SELF     = 0
	RUSAGE_CHILDREN = -1
	RUSAGE_BOTH     = -2
	RUSAGE_THREAD   = 1
)

// Rusage is struct rusage (144 bytes).
type Rusage struct {
	Utime    Timeval
	Stime    Timeval
	Maxrss   int64
	Ixrss    int64
	Idrss    int64
	Isrss    int64
	Minflt   int64
	Majflt   int64
	Nswap    int64
	Inblock  int64
	Oublock  int64
	Msgsnd   int64
	Msgrcv   int64
	Nsignals int64
	Nvcsw    int64
	Nivcsw   int64
}

// SizeofRusage is sizeof(struct rusage).
const SizeofRusage = 144

// getpriority(2)/setpriority(2) targets.
const (
	PRIO_PROCESS = 0
	PRIO_PGRP    = 1
	PRIO_USER    = 2
)

// NR_OPEN is the kernel's default fs.nr_open, the ceiling of RLIMIT_NOFILE.
const NR_OPEN = 1 << 20

// INR_OPEN_CUR is Linux's default soft RLIMIT_NOFILE.
const INR_OPEN_CUR = 1024

// ioprio_get(2)/ioprio_set(2) targets.
const (
	IOPRIO_WHO_PROCESS = 1
	IOPRIO_WHO_PGRP    = 2
	IOPRIO_WHO_USER    = 3
)
