package kernel

import (
	"encoding/binary"
	"strconv"

	"github.com/elfuse/elfuse/kernel/abi"
)

// sig is shorthand for a spec built from argument kinds.
func sig(kinds ...argKind) *traceSpec { return &traceSpec{args: kinds} }

// traceSpecs describes the syscalls the tracer decodes, keyed by number;
// the rest print their raw registers in hex.
var traceSpecs = map[uint64]*traceSpec{
	abi.SYS_READ:            sig(aFD, aBufOut, aUint),
	abi.SYS_WRITE:           sig(aFD, aBufIn, aUint),
	abi.SYS_PREAD64:         sig(aFD, aBufOut, aUint, aLong),
	abi.SYS_PWRITE64:        sig(aFD, aBufIn, aUint, aLong),
	abi.SYS_OPEN:            {custom: traceOpen},
	abi.SYS_OPENAT:          {custom: traceOpenat},
	abi.SYS_CREAT:           sig(aPath, aMode),
	abi.SYS_CLOSE:           sig(aFD),
	abi.SYS_STAT:            sig(aPath, aStat),
	abi.SYS_LSTAT:           sig(aPath, aStat),
	abi.SYS_FSTAT:           sig(aFD, aStat),
	abi.SYS_NEWFSTATAT:      sig(aDirFD, aPath, aStat, aAtFlags),
	abi.SYS_STATX:           {custom: traceStatx},
	abi.SYS_LSEEK:           sig(aFD, aLong, aWhence),
	abi.SYS_MMAP:            {args: []argKind{aPtr, aUint, aProt, aMapFlags, aFD, aHex}, ret: retHex},
	abi.SYS_MPROTECT:        sig(aPtr, aUint, aProt),
	abi.SYS_MUNMAP:          sig(aPtr, aUint),
	abi.SYS_BRK:             {args: []argKind{aPtr}, ret: retHex},
	abi.SYS_RT_SIGACTION:    sig(aSig, aSigaction, aSigaction, aUint),
	abi.SYS_RT_SIGPROCMASK:  sig(aSigHow, aSigsetIn, aSigsetOut, aUint),
	abi.SYS_IOCTL:           sig(aFD, aIoctlReq, aIoctlArg),
	abi.SYS_ACCESS:          sig(aPath, aAccess),
	abi.SYS_FACCESSAT:       sig(aDirFD, aPath, aAccess),
	abi.SYS_FACCESSAT2:      sig(aDirFD, aPath, aAccess, aAtFlags),
	abi.SYS_PIPE:            sig(aPipeFds),
	abi.SYS_PIPE2:           sig(aPipeFds, aCloexec),
	abi.SYS_DUP:             sig(aFD),
	abi.SYS_DUP2:            sig(aFD, aFD),
	abi.SYS_DUP3:            sig(aFD, aFD, aCloexec),
	abi.SYS_GETPID:          sig(),
	abi.SYS_GETPPID:         sig(),
	abi.SYS_GETTID:          sig(),
	abi.SYS_GETUID:          sig(),
	abi.SYS_GETEUID:         sig(),
	abi.SYS_GETGID:          sig(),
	abi.SYS_GETEGID:         sig(),
	abi.SYS_GETPGRP:         sig(),
	abi.SYS_GETPGID:         sig(aInt),
	abi.SYS_SETPGID:         sig(aInt, aInt),
	abi.SYS_GETSID:          sig(aInt),
	abi.SYS_SETSID:          sig(),
	abi.SYS_FORK:            sig(),
	abi.SYS_VFORK:           sig(),
	abi.SYS_CLONE:           {custom: traceClone},
	abi.SYS_CLONE3:          {args: []argKind{aStructIn, aUint}, pre: true},
	abi.SYS_EXECVE:          {args: []argKind{aPath, aArgv, aEnvp}, pre: true},
	abi.SYS_EXECVEAT:        {args: []argKind{aDirFD, aPath, aArgv, aEnvp, aAtFlags}, pre: true},
	abi.SYS_EXIT:            {args: []argKind{aInt}, ret: retNone},
	abi.SYS_EXIT_GROUP:      {args: []argKind{aInt}, ret: retNone},
	abi.SYS_WAIT4:           sig(aInt, aWstatus, aWaitOpts, aStructOut),
	abi.SYS_KILL:            sig(aInt, aSig),
	abi.SYS_TKILL:           sig(aInt, aSig),
	abi.SYS_TGKILL:          sig(aInt, aInt, aSig),
	abi.SYS_FCNTL:           {args: []argKind{aFD, aFcntlCmd, aFcntlArg}, retFmt: fcntlRet},
	abi.SYS_GETDENTS64:      sig(aFD, aDirents, aUint),
	abi.SYS_READLINK:        sig(aPath, aBufOut, aUint),
	abi.SYS_READLINKAT:      sig(aDirFD, aPath, aBufOut, aUint),
	abi.SYS_CHDIR:           sig(aPath),
	abi.SYS_FCHDIR:          sig(aFD),
	abi.SYS_GETCWD:          sig(aBufOut, aUint),
	abi.SYS_UNLINK:          sig(aPath),
	abi.SYS_UNLINKAT:        sig(aDirFD, aPath, aUnlinkat),
	abi.SYS_RMDIR:           sig(aPath),
	abi.SYS_MKDIR:           sig(aPath, aMode),
	abi.SYS_MKDIRAT:         sig(aDirFD, aPath, aMode),
	abi.SYS_RENAME:          sig(aPath, aPath),
	abi.SYS_RENAMEAT:        sig(aDirFD, aPath, aDirFD, aPath),
	abi.SYS_RENAMEAT2:       sig(aDirFD, aPath, aDirFD, aPath, aHex),
	abi.SYS_CHMOD:           sig(aPath, aMode),
	abi.SYS_FCHMOD:          sig(aFD, aMode),
	abi.SYS_UMASK:           {args: []argKind{aMode}, retFmt: func(dst []byte, _ *Args, ret uint64) []byte { return appendMode(dst, ret) }},
	abi.SYS_SET_TID_ADDRESS: sig(aPtr),
	abi.SYS_RT_SIGRETURN:    {custom: traceSigreturn},
	abi.SYS_SCHED_YIELD:     sig(),
	abi.SYS_PAUSE:           sig(),
	abi.SYS_SYNC:            sig(),
	abi.SYS_FSYNC:           sig(aFD),
	abi.SYS_FTRUNCATE:       sig(aFD, aLong),
	abi.SYS_TRUNCATE:        sig(aPath, aLong),
	abi.SYS_SYMLINK:         sig(aPath, aPath),
	abi.SYS_LINK:            sig(aPath, aPath),
	// Decoded no further than their argument count: raw values, in hex
	// where they are flags or addresses.
	abi.SYS_ARCH_PRCTL:      sig(aArchPrctl, aHex),
	abi.SYS_SET_ROBUST_LIST: sig(aPtr, aUint),
	abi.SYS_RSEQ:            sig(aPtr, aHex, aHex, aHex),
	abi.SYS_PRLIMIT64:       sig(aInt, aRlimit, aStructIn, aStructOut),
	abi.SYS_GETRLIMIT:       sig(aRlimit, aStructOut),
	abi.SYS_GETRANDOM:       sig(aRandom, aUint, aGrnd),
	abi.SYS_PRCTL:           sig(aInt, aHex, aHex, aHex, aHex),
	abi.SYS_UNAME:           sig(aStructOut),
	abi.SYS_STATFS:          sig(aPath, aStructOut),
	abi.SYS_FSTATFS:         sig(aFD, aStructOut),
	abi.SYS_SYSINFO:         sig(aStructOut),
	abi.SYS_GETRUSAGE:       sig(aInt, aStructOut),
	abi.SYS_TIMES:           sig(aStructOut),
	abi.SYS_CLOCK_GETTIME:   sig(aInt, aStructOut),
	abi.SYS_GETTIMEOFDAY:    sig(aStructOut, aStructOut),
	abi.SYS_NANOSLEEP:       sig(aStructIn, aStructOut),
	abi.SYS_CLOCK_NANOSLEEP: sig(aInt, aHex, aStructIn, aStructOut),
	abi.SYS_FUTEX:           {custom: traceFutex},
	abi.SYS_POLL:            sig(aPtr, aUint, aInt),
	abi.SYS_PPOLL:           sig(aPtr, aUint, aStructIn, aSigsetIn, aUint),
	abi.SYS_SELECT:          sig(aInt, aPtr, aPtr, aPtr, aStructIn),
	abi.SYS_PSELECT6:        sig(aInt, aPtr, aPtr, aPtr, aStructIn, aPtr),
	abi.SYS_SOCKET:          sig(aInt, aHex, aInt),
	abi.SYS_CONNECT:         sig(aFD, aStructIn, aUint),
	abi.SYS_BIND:            sig(aFD, aStructIn, aUint),
	abi.SYS_LISTEN:          sig(aFD, aInt),
	abi.SYS_ACCEPT4:         sig(aFD, aStructOut, aIntPtr, aHex),
	abi.SYS_ACCEPT:          sig(aFD, aStructOut, aIntPtr),
	abi.SYS_GETPEERNAME:     sig(aFD, aStructOut, aIntPtr),
	abi.SYS_GETSOCKNAME:     sig(aFD, aStructOut, aIntPtr),
	abi.SYS_SENDTO:          sig(aFD, aBufIn, aUint, aHex, aPtr, aUint),
	abi.SYS_RECVFROM:        sig(aFD, aBufOut, aUint, aHex, aPtr, aPtr),
	abi.SYS_SOCKETPAIR:      sig(aInt, aHex, aInt, aPipeFds),
	abi.SYS_READV:           sig(aFD, aPtr, aUint),
	abi.SYS_WRITEV:          sig(aFD, aPtr, aUint),
	abi.SYS_SIGALTSTACK:     sig(aStructIn, aStructOut),
	abi.SYS_RT_SIGSUSPEND:   sig(aSigsetIn, aUint),
	abi.SYS_UMOUNT2:         sig(aPath, aHex),
	abi.SYS_MREMAP:          {args: []argKind{aPtr, aUint, aUint, aHex, aPtr}, ret: retHex},
	abi.SYS_MADVISE:         sig(aPtr, aUint, aInt),
	abi.SYS_SETUID:          sig(aInt),
	abi.SYS_SETGID:          sig(aInt),
	abi.SYS_CHOWN:           sig(aPath, aInt, aInt),
	abi.SYS_FCHOWN:          sig(aFD, aInt, aInt),
	abi.SYS_UTIMENSAT:       sig(aDirFD, aPath, aStructIn, aAtFlags),
	abi.SYS_SYMLINKAT:       sig(aPath, aDirFD, aPath),
	abi.SYS_LINKAT:          sig(aDirFD, aPath, aDirFD, aPath, aAtFlags),
	abi.SYS_FCHMODAT:        sig(aDirFD, aPath, aMode),
	abi.SYS_FCHOWNAT:        sig(aDirFD, aPath, aInt, aInt, aAtFlags),
	abi.SYS_EVENTFD2:        sig(aUint, aCloexec),
	abi.SYS_EPOLL_CREATE1:   sig(aCloexec),
	abi.SYS_EPOLL_CTL:       sig(aFD, aInt, aFD, aStructIn),
	abi.SYS_EPOLL_WAIT:      sig(aFD, aPtr, aInt, aInt),
	abi.SYS_EPOLL_PWAIT:     sig(aFD, aPtr, aInt, aInt, aSigsetIn, aUint),
}

// traceOpen prints open(2): the mode only when the flags use it.
func traceOpen(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte {
	dst = append(t.appendArg(dst, aPath, a, 0, ret, failed), ", "...)
	dst = appendOpenFlags(dst, a[1])
	if a[1]&(abi.O_CREAT|abi.O_TMPFILE) != 0 {
		dst = appendMode(append(dst, ", "...), a[2])
	}
	return dst
}

// traceOpenat prints openat(2) like traceOpen.
func traceOpenat(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte {
	dst = append(t.appendArg(dst, aDirFD, a, 0, ret, failed), ", "...)
	dst = append(t.appendArg(dst, aPath, a, 1, ret, failed), ", "...)
	dst = appendOpenFlags(dst, a[2])
	if a[2]&abi.O_CREAT != 0 || a[2]&abi.O_TMPFILE == abi.O_TMPFILE {
		dst = appendMode(append(dst, ", "...), a[3])
	}
	return dst
}

// traceClone prints clone(2) with strace's argument names; x86-64 passes
// flags, stack, parent_tid, child_tid, tls.
func traceClone(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte {
	flags := a[0]
	dst = appendPtr(append(dst, "child_stack="...), a[1])
	dst = appendCloneFlags(append(dst, ", flags="...), flags)
	if flags&(abi.CLONE_PARENT_SETTID|abi.CLONE_PIDFD) != 0 {
		dst = appendPtr(append(dst, ", parent_tid="...), a[2])
	}
	if flags&(abi.CLONE_CHILD_SETTID|abi.CLONE_CHILD_CLEARTID) != 0 {
		dst = appendPtr(append(dst, ", child_tidptr="...), a[3])
	}
	if flags&abi.CLONE_SETTLS != 0 {
		dst = appendPtr(append(dst, ", tls="...), a[4])
	}
	return dst
}

var sigactFlagNames = []flagName{{0x04000000, "SA_RESTORER"}, {0x08000000, "SA_ONSTACK"},
	{0x10000000, "SA_RESTART"}, {0x20000000, "SA_INTERRUPT"}, {0x40000000, "SA_NODEFER"},
	{0x80000000, "SA_RESETHAND"}, {4, "SA_SIGINFO"}, {1, "SA_NOCLDSTOP"}, {2, "SA_NOCLDWAIT"}}

// appendGuestSigaction appends the struct sigaction at addr as strace
// does, NULL, or the address.
func (t *Task) appendGuestSigaction(dst []byte, addr uint64) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	var b [32]byte
	if _, err := t.CopyIn(abi.Addr(addr), b[:]); err != nil {
		return appendHex(dst, addr)
	}
	handler := binary.LittleEndian.Uint64(b[0:])
	flags := binary.LittleEndian.Uint64(b[8:])
	restorer := binary.LittleEndian.Uint64(b[16:])
	mask := binary.LittleEndian.Uint64(b[24:])
	dst = append(dst, "{sa_handler="...)
	switch handler {
	case 0:
		dst = append(dst, "SIG_DFL"...)
	case 1:
		dst = append(dst, "SIG_IGN"...)
	default:
		dst = appendHex(dst, handler)
	}
	dst = appendSigset(append(dst, ", sa_mask="...), mask)
	dst = appendFlags(append(dst, ", sa_flags="...), flags, sigactFlagNames)
	if flags&0x04000000 != 0 {
		dst = appendPtr(append(dst, ", sa_restorer="...), restorer)
	}
	return append(dst, '}')
}

var fcntlCmdNames = map[int32]string{0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL",
	4: "F_SETFL", 5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN",
	10: "F_SETSIG", 11: "F_GETSIG", 15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 36: "F_OFD_GETLK",
	37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE", 1025: "F_GETLEASE",
	1026: "F_NOTIFY", 1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ",
	1033: "F_ADD_SEALS", 1034: "F_GET_SEALS"}

func appendFcntlCmd(dst []byte, cmd int32) []byte {
	if n, ok := fcntlCmdNames[cmd]; ok {
		return append(dst, n...)
	}
	return appendHex(dst, uint64(uint32(cmd)))
}

// appendFcntlArg appends fcntl's third argument as the command reads it.
// strace omits it for the commands that take none; the caller's ", " is
// then taken back.
func appendFcntlArg(dst []byte, cmd int32, v uint64) []byte {
	switch cmd {
	case abi.F_GETFD, abi.F_GETFL, abi.F_GETOWN, abi.F_GETSIG, abi.F_GETLEASE,
		abi.F_GETPIPE_SZ, abi.F_GET_SEALS:
		return dst[:len(dst)-2]
	case abi.F_SETFD:
		if v == abi.FD_CLOEXEC {
			return append(dst, "FD_CLOEXEC"...)
		}
		return strconv.AppendUint(dst, v, 10)
	case abi.F_SETFL:
		return appendOpenFlags(dst, v)
	case abi.F_DUPFD, abi.F_DUPFD_CLOEXEC, abi.F_SETOWN, abi.F_SETSIG, abi.F_SETPIPE_SZ:
		return strconv.AppendInt(dst, int64(int32(v)), 10)
	case abi.F_GETLK, abi.F_SETLK, abi.F_SETLKW, abi.F_OFD_GETLK, abi.F_OFD_SETLK, abi.F_OFD_SETLKW:
		return appendPtr(dst, v)
	}
	return appendHex(dst, v)
}

// traceSigreturn prints rt_sigreturn(2) with the mask it restored, which
// strace reads from the signal frame.
func traceSigreturn(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte {
	return append(appendSigset(append(dst, "{mask="...), t.SigMask), '}')
}
