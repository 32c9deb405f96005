package kernel

import (
	"math/bits"
	"strconv"

	"golang.org/x/sys/unix"
)

// This file holds the pieces of an strace-style line that need no guest
// memory: quoting, flag sets, errno and signal names. The spellings and
// orders follow strace 6 (its xlat tables), so that a trace reads like
// `strace -f` and can be compared with it byte for byte.

// traceMaxStr is strace's default -s: strings and buffers longer than it
// are cut and followed by "...".
const traceMaxStr = 32

// flagName is one named bit set of a flag argument.
type flagName struct {
	val  uint64
	name string
}

// appendQuoted appends b quoted and escaped the way strace's string_quote
// does: the usual C escapes, printable ASCII as is, anything else in octal,
// three digits wide only when a digit follows.
func appendQuoted(dst, b []byte) []byte {
	dst = append(dst, '"')
	for i, c := range b {
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\v':
			dst = append(dst, '\\', 'v')
		default:
			if c >= ' ' && c <= '~' {
				dst = append(dst, c)
				continue
			}
			dst = append(dst, '\\')
			if i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
				dst = append(dst, '0'+c>>6, '0'+(c>>3)&7)
			} else if c>>3 != 0 {
				if c>>6 != 0 {
					dst = append(dst, '0'+c>>6)
				}
				dst = append(dst, '0'+(c>>3)&7)
			}
			dst = append(dst, '0'+c&7)
		}
	}
	return append(dst, '"')
}

// appendCut appends b quoted, cut at traceMaxStr bytes with strace's "..."
// when longer (more says there was more than b holds).
func appendCut(dst, b []byte, more bool) []byte {
	if len(b) > traceMaxStr {
		b, more = b[:traceMaxStr], true
	}
	dst = appendQuoted(dst, b)
	if more {
		dst = append(dst, "..."...)
	}
	return dst
}

// appendHex appends v as C's %#lx does: 0x-prefixed hex, 0 bare.
func appendHex(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	return strconv.AppendUint(append(dst, '0', 'x'), v, 16)
}

// appendPtr appends a guest pointer: NULL or hex.
func appendPtr(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, "NULL"...)
	}
	return appendHex(dst, v)
}

// appendFlags appends the names of the bits of v in names' order joined by
// '|', then any bits left in hex; zero is printed as zero (a named zero
// value, like O_RDONLY, is the caller's business).
func appendFlags(dst []byte, v uint64, names []flagName) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	first := true
	for _, n := range names {
		if n.val != 0 && v&n.val == n.val {
			if !first {
				dst = append(dst, '|')
			}
			dst, first = append(dst, n.name...), false
			v &^= n.val
		}
	}
	if v != 0 {
		if !first {
			dst = append(dst, '|')
		}
		dst = appendHex(dst, v)
	}
	return dst
}

// openFlagNames are the open(2) flags past the access mode, in strace's
// order (O_SYNC before O_DSYNC, O_TMPFILE before O_DIRECTORY).
var openFlagNames = []flagName{
	{0o100, "O_CREAT"}, {0o200, "O_EXCL"}, {0o400, "O_NOCTTY"}, {0o1000, "O_TRUNC"},
	{0o2000, "O_APPEND"}, {0o4000, "O_NONBLOCK"}, {0o4010000, "O_SYNC"}, {0o10000, "O_DSYNC"},
	{0o40000, "O_DIRECT"}, {0o100000, "O_LARGEFILE"}, {0o400000, "O_NOFOLLOW"},
	{0o1000000, "O_NOATIME"}, {0o2000000, "O_CLOEXEC"}, {0o10000000, "O_PATH"},
	{0o20200000, "O_TMPFILE"}, {0o200000, "O_DIRECTORY"}, {0o20000, "O_ASYNC"},
}

// appendOpenFlags appends open(2) flags: the access mode by name, then the
// other bits.
func appendOpenFlags(dst []byte, v uint64) []byte {
	switch v & 3 {
	case 0:
		dst = append(dst, "O_RDONLY"...)
	case 1:
		dst = append(dst, "O_WRONLY"...)
	case 2:
		dst = append(dst, "O_RDWR"...)
	default:
		dst = append(dst, "O_ACCMODE"...)
	}
	if rest := v &^ 3; rest != 0 {
		dst = appendFlags(append(dst, '|'), rest, openFlagNames)
	}
	return dst
}

// appendMode appends a file mode in octal as strace does with C's %#03o
// (0644, 007, 000).
func appendMode(dst []byte, v uint64) []byte {
	s := strconv.FormatUint(v, 8)
	if v != 0 {
		s = "0" + s
	}
	for len(s) < 3 {
		s = "0" + s
	}
	return append(dst, s...)
}

var protNames = []flagName{{1, "PROT_READ"}, {2, "PROT_WRITE"}, {4, "PROT_EXEC"},
	{0x8, "PROT_SEM"}, {0x01000000, "PROT_GROWSDOWN"}, {0x02000000, "PROT_GROWSUP"}}

func appendProt(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, "PROT_NONE"...)
	}
	return appendFlags(dst, v, protNames)
}

var mapFlagNames = []flagName{{0x10, "MAP_FIXED"}, {0x20, "MAP_ANONYMOUS"}, {0x40, "MAP_32BIT"},
	{0x4000, "MAP_NORESERVE"}, {0x8000, "MAP_POPULATE"}, {0x10000, "MAP_NONBLOCK"},
	{0x100, "MAP_GROWSDOWN"}, {0x800, "MAP_DENYWRITE"}, {0x1000, "MAP_EXECUTABLE"},
	{0x2000, "MAP_LOCKED"}, {0x20000, "MAP_STACK"}, {0x40000, "MAP_HUGETLB"},
	{0x80000, "MAP_SYNC"}, {0x4000000, "MAP_UNINITIALIZED"}, {0x100000, "MAP_FIXED_NOREPLACE"}}

// appendMapFlags appends mmap(2) flags: the mapping type, then the rest.
func appendMapFlags(dst []byte, v uint64) []byte {
	switch v & 0xf {
	case 1:
		dst = append(dst, "MAP_SHARED"...)
	case 2:
		dst = append(dst, "MAP_PRIVATE"...)
	case 3:
		dst = append(dst, "MAP_SHARED_VALIDATE"...)
	default:
		return appendFlags(dst, v, mapFlagNames)
	}
	if rest := v &^ 0xf; rest != 0 {
		dst = appendFlags(append(dst, '|'), rest, mapFlagNames)
	}
	return dst
}

var atFlagNames = []flagName{{0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_EACCESS"},
	{0x400, "AT_SYMLINK_FOLLOW"}, {0x800, "AT_NO_AUTOMOUNT"}, {0x1000, "AT_EMPTY_PATH"},
	{0x2000, "AT_STATX_FORCE_SYNC"}, {0x4000, "AT_STATX_DONT_SYNC"}, {0x8000, "AT_RECURSIVE"}}

var unlinkatFlagNames = []flagName{{0x200, "AT_REMOVEDIR"}}

var cloneFlagNames = []flagName{{0x100, "CLONE_VM"}, {0x200, "CLONE_FS"}, {0x400, "CLONE_FILES"},
	{0x800, "CLONE_SIGHAND"}, {0x1000, "CLONE_PIDFD"}, {0x2000, "CLONE_PTRACE"},
	{0x4000, "CLONE_VFORK"}, {0x8000, "CLONE_PARENT"}, {0x10000, "CLONE_THREAD"},
	{0x20000, "CLONE_NEWNS"}, {0x40000, "CLONE_SYSVSEM"}, {0x80000, "CLONE_SETTLS"},
	{0x100000, "CLONE_PARENT_SETTID"}, {0x200000, "CLONE_CHILD_CLEARTID"},
	{0x800000, "CLONE_UNTRACED"}, {0x1000000, "CLONE_CHILD_SETTID"},
	{0x2000000, "CLONE_NEWCGROUP"}, {0x4000000, "CLONE_NEWUTS"}, {0x8000000, "CLONE_NEWIPC"},
	{0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"}, {0x40000000, "CLONE_NEWNET"},
	{0x80000000, "CLONE_IO"}}

// appendCloneFlags appends clone(2) flags with the exit signal last, as
// strace prints them.
func appendCloneFlags(dst []byte, v uint64) []byte {
	sig := v & 0xff
	rest := v &^ 0xff
	switch {
	case rest == 0 && sig == 0:
		return append(dst, '0')
	case rest != 0:
		dst = appendFlags(dst, rest, cloneFlagNames)
		if sig == 0 {
			return dst
		}
		dst = append(dst, '|')
	}
	return appendSignal(dst, int(sig))
}

var waitOptNames = []flagName{{1, "WNOHANG"}, {2, "WSTOPPED"}, {4, "WEXITED"}, {8, "WCONTINUED"},
	{0x01000000, "WNOWAIT"}, {0x20000000, "__WNOTHREAD"}, {0x40000000, "__WALL"}, {0x80000000, "__WCLONE"}}

var accessModeNames = []flagName{{4, "R_OK"}, {2, "W_OK"}, {1, "X_OK"}}

func appendAccessMode(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, "F_OK"...)
	}
	return appendFlags(dst, v, accessModeNames)
}

// signalNames are the names of signals 1..31.
var signalNames = [32]string{"", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
	"SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
	"SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
	"SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"}

// signalName returns strace's name of sig, "" when it has none. strace
// counts real-time signals from the kernel's SIGRTMIN (32), not glibc's.
func signalName(sig int) string {
	switch {
	case sig > 0 && sig < 32:
		return signalNames[sig]
	case sig == 32:
		return "SIGRTMIN"
	case sig > 32 && sig <= 64:
		return "SIGRT_" + strconv.Itoa(sig-32)
	}
	return ""
}

// appendSignal appends a signal number by name, or the number.
func appendSignal(dst []byte, sig int) []byte {
	if n := signalName(sig); n != "" {
		return append(dst, n...)
	}
	return strconv.AppendInt(dst, int64(sig), 10)
}

// appendSigset appends a signal set as strace does: "[INT CHLD]", or
// "~[...]" listing the signals missing when more than half are present.
func appendSigset(dst []byte, set uint64) []byte {
	if bits.OnesCount64(set) > 32 {
		dst = append(dst, '~')
		set = ^set
	}
	dst = append(dst, '[')
	first := true
	for sig := 1; sig <= 64; sig++ {
		if set&(1<<(sig-1)) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		if n := signalName(sig); n != "" {
			dst = append(dst, n[3:]...)
		} else {
			dst = strconv.AppendInt(dst, int64(sig), 10)
		}
	}
	return append(dst, ']')
}

// restartErrnos are the kernel-internal errnos a syscall interrupted by a
// signal returns; strace prints them as "= ? NAME (text)".
var restartErrnos = map[uint64]string{
	512: "ERESTARTSYS (To be restarted if SA_RESTART is set)",
	513: "ERESTARTNOINTR (To be restarted)",
	514: "ERESTARTNOHAND (To be restarted if no handler)",
	516: "ERESTART_RESTARTBLOCK (Interrupted by signal)",
}

// appendErrno appends a failed return: "-1 ENOENT (No such file or
// directory)", strace's spelling of glibc's strerror.
func appendErrno(dst []byte, e uint64) []byte {
	if s, ok := restartErrnos[e]; ok {
		return append(append(dst, "? "...), s...)
	}
	name := unix.ErrnoName(unix.Errno(e))
	if name == "" {
		return strconv.AppendUint(append(dst, "-1 errno "...), e, 10)
	}
	dst = append(append(append(dst, "-1 "...), name...), " ("...)
	msg := unix.Errno(e).Error()
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		dst = append(dst, msg[0]-'a'+'A')
		msg = msg[1:]
	}
	return append(append(dst, msg...), ')')
}
