package kernel

import (
	"encoding/binary"
	"strconv"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Decoders of the few structs strace shows by default that programs trace
// most: struct stat (abbreviated as strace does without -v) and small
// enumerations.

// statModeTypes names the file types of st_mode.
var statModeTypes = map[uint32]string{0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG",
	0o60000: "S_IFBLK", 0o40000: "S_IFDIR", 0o20000: "S_IFCHR", 0o10000: "S_IFIFO"}

// appendStatMode appends st_mode as strace does: S_IFREG|0644, with the
// set-id and sticky bits as S_ISUID|S_ISGID|S_ISVTX.
func appendStatMode(dst []byte, mode uint32) []byte {
	if n, ok := statModeTypes[mode&0o170000]; ok {
		dst = append(append(dst, n...), '|')
	} else if mode&0o170000 != 0 {
		dst = append(strconv.AppendUint(append(dst, '0'), uint64(mode&0o170000), 8), '|')
	}
	for _, f := range []struct {
		bit  uint32
		name string
	}{{0o4000, "S_ISUID|"}, {0o2000, "S_ISGID|"}, {0o1000, "S_ISVTX|"}} {
		if mode&f.bit != 0 {
			dst = append(dst, f.name...)
		}
	}
	return appendMode(dst, uint64(mode&0o777))
}

// appendGuestStat appends the struct stat at addr as strace does without
// -v: {st_mode=..., st_size=N, ...}, or st_rdev for devices.
func (t *Task) appendGuestStat(dst []byte, addr uint64) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	var b [64]byte
	if _, err := t.CopyIn(abi.Addr(addr), b[:]); err != nil {
		return appendHex(dst, addr)
	}
	mode := binary.LittleEndian.Uint32(b[24:])
	dst = appendStatMode(append(dst, "{st_mode="...), mode)
	switch mode & 0o170000 {
	case 0o20000, 0o60000:
		rdev := binary.LittleEndian.Uint64(b[40:])
		major := rdev>>8&0xfff | rdev>>32&^0xfff
		minor := rdev&0xff | rdev>>12&^0xff
		dst = appendHex(append(dst, ", st_rdev=makedev("...), major)
		dst = append(appendHex(append(dst, ", "...), minor), ')')
	default:
		dst = strconv.AppendInt(append(dst, ", st_size="...), int64(binary.LittleEndian.Uint64(b[48:])), 10)
	}
	return append(dst, ", ...}"...)
}

// archPrctlCodes names arch_prctl(2)'s codes.
var archPrctlCodes = map[uint64]string{0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS",
	0x1003: "ARCH_GET_FS", 0x1004: "ARCH_GET_GS", 0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID"}

// rlimitNames names the resources of getrlimit(2) and prlimit64(2).
var rlimitNames = []string{"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK",
	"RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
	"RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO",
	"RLIMIT_RTTIME"}

// appendName appends names[v] or, past the table, the fallback.
func appendEnum(dst []byte, v uint64, names map[uint64]string, hex bool) []byte {
	if n, ok := names[v]; ok {
		return append(dst, n...)
	}
	if hex {
		return appendHex(dst, v)
	}
	return strconv.AppendInt(dst, int64(int32(v)), 10)
}

func appendRlimit(dst []byte, v uint64) []byte {
	if v < uint64(len(rlimitNames)) {
		return append(dst, rlimitNames[v]...)
	}
	return strconv.AppendInt(dst, int64(int32(v)), 10)
}

var grndNames = []flagName{{1, "GRND_NONBLOCK"}, {2, "GRND_RANDOM"}, {4, "GRND_INSECURE"}}

// appendGuestHexBuf appends the n-byte guest buffer at addr with every
// byte as \xNN, cut at 32, as strace prints getrandom's.
func (t *Task) appendGuestHexBuf(dst []byte, addr, n uint64) []byte {
	show := min(n, traceMaxStr)
	b := make([]byte, show)
	if _, err := t.CopyIn(abi.Addr(addr), b); err != nil {
		return appendHex(dst, addr)
	}
	const digits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		dst = append(dst, '\\', 'x', digits[c>>4], digits[c&15])
	}
	dst = append(dst, '"')
	if n > show {
		dst = append(dst, "..."...)
	}
	return dst
}

// traceStatx prints statx(2): strace names the sync type (AT_STATX_SYNC_AS_STAT
// when it is zero) before the other AT_* flags.
func traceStatx(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte {
	dst = append(t.appendArg(dst, aDirFD, a, 0, ret, failed), ", "...)
	dst = append(t.appendArg(dst, aPath, a, 1, ret, failed), ", "...)
	flags := uint64(uint32(a[2]))
	if flags&0x6000 == 0 {
		dst = append(dst, "AT_STATX_SYNC_AS_STAT"...)
		if flags != 0 {
			dst = appendFlags(append(dst, '|'), flags, atFlagNames)
		}
	} else {
		dst = appendFlags(dst, flags, atFlagNames)
	}
	dst = appendHex(append(dst, ", "...), uint64(uint32(a[3])))
	return t.appendArg(append(dst, ", "...), aStructOut, a, 4, ret, failed)
}

// futexOps names futex(2)'s operations.
var futexOps = []string{"FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_FD", "FUTEX_REQUEUE", "FUTEX_CMP_REQUEUE",
	"FUTEX_WAKE_OP", "FUTEX_LOCK_PI", "FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI", "FUTEX_WAIT_BITSET",
	"FUTEX_WAKE_BITSET", "FUTEX_WAIT_REQUEUE_PI", "FUTEX_CMP_REQUEUE_PI", "FUTEX_LOCK_PI2"}

// traceFutex prints futex(2) with its operation named; FUTEX_WAIT and
// FUTEX_WAKE show the arguments they use, the others all six raw.
func traceFutex(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte {
	op := uint32(a[1])
	cmd := op &^ (128 | 256)
	dst = append(appendPtr(dst, a[0]), ", "...)
	if cmd < uint32(len(futexOps)) {
		dst = append(dst, futexOps[cmd]...)
		if op&128 != 0 {
			dst = append(dst, "_PRIVATE"...)
		}
		if op&256 != 0 {
			dst = append(dst, "|FUTEX_CLOCK_REALTIME"...)
		}
	} else {
		dst = appendHex(dst, uint64(op))
	}
	dst = strconv.AppendInt(append(dst, ", "...), int64(int32(a[2])), 10)
	switch cmd {
	case 0: // FUTEX_WAIT
		return t.appendGuestStruct(append(dst, ", "...), a[3])
	case 1: // FUTEX_WAKE
		return dst
	}
	for i := 3; i < 6; i++ {
		dst = appendHex(append(dst, ", "...), a[i])
	}
	return dst
}

// ioctlNames names the terminal ioctls shells and make issue most; others
// print in hex.
var ioctlNames = map[uint64]string{0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW",
	0x5404: "TCSETSF", 0x540e: "TIOCSCTTY", 0x540f: "TIOCGPGRP", 0x5410: "TIOCSPGRP",
	0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ", 0x541b: "FIONREAD", 0x5421: "FIONBIO",
	0x5422: "TIOCNOTTY", 0x5429: "TIOCGSID", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX"}

// appendIoctlArg appends ioctl's third argument for the requests named in
// ioctlNames: [N] for the int ones, the window size, {...} for termios,
// nothing for those without one; the raw value in hex for the rest and
// for a failed call that fills it.
func (t *Task) appendIoctlArg(dst []byte, req uint32, v uint64, failed bool) []byte {
	switch req {
	case 0x5450, 0x5451, 0x5422: // FIONCLEX, FIOCLEX, TIOCNOTTY take none
		return dst[:len(dst)-2]
	case 0x540e: // TIOCSCTTY: an int by value
		return strconv.AppendInt(dst, int64(int32(v)), 10)
	case 0x5410, 0x5421: // TIOCSPGRP, FIONBIO: read
		return t.appendArg(dst, aIntPtr, &Args{v}, 0, 0, false)
	case 0x540f, 0x541b, 0x5429: // TIOCGPGRP, FIONREAD, TIOCGSID: filled
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendArg(dst, aIntPtr, &Args{v}, 0, 0, false)
	case 0x5413, 0x5414: // TIOCGWINSZ, TIOCSWINSZ
		if failed && req == 0x5413 {
			return appendPtr(dst, v)
		}
		var b [8]byte
		if _, err := t.CopyIn(abi.Addr(v), b[:]); err != nil {
			return appendHex(dst, v)
		}
		le := binary.LittleEndian
		dst = strconv.AppendUint(append(dst, "{ws_row="...), uint64(le.Uint16(b[0:])), 10)
		dst = strconv.AppendUint(append(dst, ", ws_col="...), uint64(le.Uint16(b[2:])), 10)
		dst = strconv.AppendUint(append(dst, ", ws_xpixel="...), uint64(le.Uint16(b[4:])), 10)
		dst = strconv.AppendUint(append(dst, ", ws_ypixel="...), uint64(le.Uint16(b[6:])), 10)
		return append(dst, '}')
	case 0x5401: // TCGETS
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendGuestStruct(dst, v)
	case 0x5402, 0x5403, 0x5404:
		return t.appendGuestStruct(dst, v)
	}
	return appendHex(dst, v)
}

// fcntlRet prints what F_GETFD and F_GETFL return as strace does: hex
// with the flags spelled out.
func fcntlRet(dst []byte, a *Args, ret uint64) []byte {
	switch int32(a[1]) {
	case abi.F_GETFD:
		if ret == 0 {
			return append(dst, '0')
		}
		dst = append(appendHex(dst, ret), " (flags "...)
		if ret == abi.FD_CLOEXEC {
			dst = append(dst, "FD_CLOEXEC"...)
		} else {
			dst = appendFlags(dst, ret, []flagName{{abi.FD_CLOEXEC, "FD_CLOEXEC"}})
		}
		return append(dst, ')')
	case abi.F_GETFL:
		dst = append(appendHex(dst, ret), " (flags "...)
		return append(appendOpenFlags(dst, ret), ')')
	}
	return strconv.AppendInt(dst, int64(ret), 10)
}
