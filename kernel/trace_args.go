package kernel

import (
	"encoding/binary"
	"strconv"

	"github.com/elfuse/elfuse/kernel/abi"
)

// argKind says how one syscall argument is printed.
type argKind uint8

// Argument kinds. Guest memory is read through the task's bounded readers;
// a pointer that cannot be read prints as its hex address, as in strace.
const (
	aInt       argKind = iota // C int, signed decimal
	aLong                     // long / off_t, signed decimal
	aUint                     // unsigned decimal (sizes)
	aHex                      // raw value in hex
	aPtr                      // pointer: NULL or hex
	aFD                       // descriptor (a C int)
	aDirFD                    // dirfd: AT_FDCWD or a descriptor
	aPath                     // NUL-terminated path, whole
	aStr                      // NUL-terminated string, cut at 32 bytes
	aBufIn                    // buffer of the next argument's length, cut at 32
	aBufOut                   // buffer the call filled, ret bytes long
	aOpenFlags                // O_* flags
	aMode                     // file mode, octal
	aProt                     // PROT_*
	aMapFlags                 // MAP_*
	aAtFlags                  // AT_* flags
	aUnlinkat                 // unlinkat flags (AT_REMOVEDIR)
	aCloexec                  // flags that are 0 or O_CLOEXEC|O_NONBLOCK (pipe2, dup3)
	aWaitOpts                 // W* options
	aSig                      // signal number by name
	aSigHow                   // SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK
	aSigsetIn                 // pointer to a sigset read on the way in
	aSigsetOut                // pointer to a sigset the call filled
	aSigaction                // pointer to a struct sigaction
	aStructIn                 // a struct read by the call: {...}
	aStructOut                // a struct the call filled: {...} on success
	aPipeFds                  // int[2] the call filled
	aWstatus                  // int* wait status the call filled
	aWhence                   // SEEK_*
	aAccess                   // F_OK or R_OK|W_OK|X_OK
	aArgv                     // char *const argv[]
	aEnvp                     // char *const envp[]: address and count
	aDirents                  // getdents64 buffer: address and entry count
	aFcntlCmd                 // F_* command (the third argument follows it)
	aFcntlArg                 // fcntl's third argument, decoded by command
	aStat                     // struct stat the call filled
	aArchPrctl                // arch_prctl code
	aRlimit                   // RLIMIT_* resource
	aGrnd                     // GRND_* flags
	aRandom                   // getrandom's buffer, in \x escapes
	aIntPtr                   // pointer to an int: [N]
	aIoctlReq                 // ioctl request: a tty name or hex
	aIoctlArg                 // ioctl's argument, by request
)

// retKind says how a successful return is printed.
type retKind uint8

const (
	retDec  retKind = iota // signed decimal
	retHex                 // an address (mmap, brk)
	retNone                // the call does not return: "?"
)

// traceSpec describes one syscall for the tracer.
type traceSpec struct {
	args []argKind
	ret  retKind
	// pre: decode the arguments before the call (their memory is gone
	// afterwards).
	pre bool
	// custom, when set, prints the arguments instead of args.
	custom func(t *Task, dst []byte, a *Args, ret uint64, failed bool) []byte
	// retFmt, when set, prints a successful return value.
	retFmt func(dst []byte, a *Args, ret uint64) []byte
}

// appendArgs appends the decoded argument list of a syscall; a syscall
// without a spec gets its six raw registers in hex, never a guess.
func (t *Task) appendArgs(dst []byte, nr uint64, spec *traceSpec, a *Args, ret uint64, failed bool) []byte {
	if spec == nil {
		for i := range a {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendHex(dst, a[i])
		}
		return dst
	}
	if spec.custom != nil {
		return spec.custom(t, dst, a, ret, failed)
	}
	for i, k := range spec.args {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = t.appendArg(dst, k, a, i, ret, failed)
	}
	return dst
}

// appendArg appends argument i of kind k.
func (t *Task) appendArg(dst []byte, k argKind, a *Args, i int, ret uint64, failed bool) []byte {
	v := a[i]
	switch k {
	case aInt, aFD:
		return strconv.AppendInt(dst, int64(int32(v)), 10)
	case aLong:
		return strconv.AppendInt(dst, int64(v), 10)
	case aUint:
		return strconv.AppendUint(dst, v, 10)
	case aHex:
		return appendHex(dst, v)
	case aPtr:
		return appendPtr(dst, v)
	case aDirFD:
		if int32(v) == abi.AT_FDCWD {
			return append(dst, "AT_FDCWD"...)
		}
		return strconv.AppendInt(dst, int64(int32(v)), 10)
	case aPath:
		return t.appendGuestString(dst, v, abi.PATH_MAX, false)
	case aStr:
		return t.appendGuestString(dst, v, traceMaxStr, true)
	case aBufIn:
		return t.appendGuestBuf(dst, v, a[i+1])
	case aBufOut:
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendGuestBuf(dst, v, ret)
	case aOpenFlags:
		return appendOpenFlags(dst, v)
	case aMode:
		return appendMode(dst, v)
	case aProt:
		return appendProt(dst, v)
	case aMapFlags:
		return appendMapFlags(dst, v)
	case aAtFlags:
		return appendFlags(dst, uint64(uint32(v)), atFlagNames)
	case aUnlinkat:
		return appendFlags(dst, uint64(uint32(v)), unlinkatFlagNames)
	case aCloexec:
		return appendFlags(dst, uint64(uint32(v)), openFlagNames)
	case aWaitOpts:
		return appendFlags(dst, uint64(uint32(v)), waitOptNames)
	case aSig:
		return appendSignal(dst, int(int32(v)))
	case aSigHow:
		switch v {
		case 0:
			return append(dst, "SIG_BLOCK"...)
		case 1:
			return append(dst, "SIG_UNBLOCK"...)
		case 2:
			return append(dst, "SIG_SETMASK"...)
		}
		return appendHex(dst, v)
	case aSigsetIn:
		return t.appendGuestSigset(dst, v)
	case aSigsetOut:
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendGuestSigset(dst, v)
	case aSigaction:
		if failed && i == 2 {
			return appendPtr(dst, v)
		}
		return t.appendGuestSigaction(dst, v)
	case aStructIn:
		return t.appendGuestStruct(dst, v)
	case aStructOut:
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendGuestStruct(dst, v)
	case aPipeFds:
		if failed {
			return appendPtr(dst, v)
		}
		var b [8]byte
		if _, err := t.CopyIn(abi.Addr(v), b[:]); err != nil {
			return appendPtr(dst, v)
		}
		dst = strconv.AppendInt(append(dst, '['), int64(int32(binary.LittleEndian.Uint32(b[:]))), 10)
		dst = strconv.AppendInt(append(dst, ", "...), int64(int32(binary.LittleEndian.Uint32(b[4:]))), 10)
		return append(dst, ']')
	case aWstatus:
		if failed || ret == 0 || v == 0 {
			return appendPtr(dst, v)
		}
		var b [4]byte
		if _, err := t.CopyIn(abi.Addr(v), b[:]); err != nil {
			return appendPtr(dst, v)
		}
		return appendWstatus(dst, binary.LittleEndian.Uint32(b[:]))
	case aWhence:
		switch v {
		case 0:
			return append(dst, "SEEK_SET"...)
		case 1:
			return append(dst, "SEEK_CUR"...)
		case 2:
			return append(dst, "SEEK_END"...)
		case 3:
			return append(dst, "SEEK_DATA"...)
		case 4:
			return append(dst, "SEEK_HOLE"...)
		}
		return strconv.AppendUint(dst, v, 10)
	case aAccess:
		return appendAccessMode(dst, v)
	case aArgv:
		return t.appendGuestArgv(dst, v)
	case aEnvp:
		return t.appendGuestEnvp(dst, v)
	case aDirents:
		return t.appendDirents(dst, v, ret, failed)
	case aFcntlCmd:
		return appendFcntlCmd(dst, int32(v))
	case aFcntlArg:
		return appendFcntlArg(dst, int32(a[i-1]), v)
	case aStat:
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendGuestStat(dst, v)
	case aArchPrctl:
		return appendEnum(dst, v, archPrctlCodes, true)
	case aRlimit:
		return appendRlimit(dst, v)
	case aGrnd:
		return appendFlags(dst, uint64(uint32(v)), grndNames)
	case aIntPtr:
		if v == 0 {
			return append(dst, "NULL"...)
		}
		var b [4]byte
		if _, err := t.CopyIn(abi.Addr(v), b[:]); err != nil {
			return appendHex(dst, v)
		}
		dst = strconv.AppendInt(append(dst, '['), int64(int32(binary.LittleEndian.Uint32(b[:]))), 10)
		return append(dst, ']')
	case aIoctlReq:
		return appendEnum(dst, uint64(uint32(v)), ioctlNames, true)
	case aIoctlArg:
		return t.appendIoctlArg(dst, uint32(a[i-1]), v, failed)
	case aRandom:
		if failed {
			return appendPtr(dst, v)
		}
		return t.appendGuestHexBuf(dst, v, ret)
	}
	return appendHex(dst, v)
}

// appendWstatus appends a wait status as strace decodes it.
func appendWstatus(dst []byte, s uint32) []byte {
	dst = append(dst, "[{"...)
	switch sig := s & 0x7f; {
	case sig == 0:
		dst = strconv.AppendUint(append(dst, "WIFEXITED(s) && WEXITSTATUS(s) == "...), uint64(s>>8&0xff), 10)
	case sig == 0x7f:
		dst = appendSignal(append(dst, "WIFSTOPPED(s) && WSTOPSIG(s) == "...), int(s>>8&0xff))
	case s == 0xffff:
		dst = append(dst, "WIFCONTINUED(s)"...)
	default:
		dst = appendSignal(append(dst, "WIFSIGNALED(s) && WTERMSIG(s) == "...), int(sig))
		if s&0x80 != 0 {
			dst = append(dst, " && WCOREDUMP(s)"...)
		}
	}
	return append(dst, "}]"...)
}

// appendGuestString appends the NUL-terminated guest string at addr: whole
// up to max bytes (cut with "..." if cut), or the address if unreadable.
func (t *Task) appendGuestString(dst []byte, addr uint64, max int, cut bool) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	s, err := t.CopyInString(abi.Addr(addr), max+1)
	switch {
	case err == nil:
		return appendQuoted(dst, []byte(s))
	case err == abi.ENAMETOOLONG && cut:
		b := make([]byte, max)
		if _, err := t.CopyIn(abi.Addr(addr), b); err == nil {
			return appendCut(dst, b, true)
		}
	}
	return appendHex(dst, addr)
}

// appendGuestBuf appends the first bytes of the n-byte guest buffer at addr,
// cut as strace does.
func (t *Task) appendGuestBuf(dst []byte, addr, n uint64) []byte {
	show := n
	if show > traceMaxStr {
		show = traceMaxStr
	}
	b := make([]byte, show)
	if _, err := t.CopyIn(abi.Addr(addr), b); err != nil {
		return appendHex(dst, addr)
	}
	return appendCut(dst, b, n > show)
}

// appendGuestSigset appends the sigset at addr, NULL, or the address.
func (t *Task) appendGuestSigset(dst []byte, addr uint64) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	var b [8]byte
	if _, err := t.CopyIn(abi.Addr(addr), b[:]); err != nil {
		return appendHex(dst, addr)
	}
	return appendSigset(dst, binary.LittleEndian.Uint64(b[:]))
}

// appendGuestStruct appends a struct the tracer does not decode: {...} if
// it is readable, NULL, or the address.
func (t *Task) appendGuestStruct(dst []byte, addr uint64) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	var b [1]byte
	if _, err := t.CopyIn(abi.Addr(addr), b[:]); err != nil {
		return appendHex(dst, addr)
	}
	return append(dst, "{...}"...)
}

// appendGuestArgv appends an argv array as strace does: the strings, cut,
// and "..." after 32 of them.
func (t *Task) appendGuestArgv(dst []byte, addr uint64) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	out := append(dst, '[')
	var b [8]byte
	for i := 0; ; i++ {
		if _, err := t.CopyIn(abi.Addr(addr+uint64(i)*8), b[:]); err != nil {
			return appendHex(dst, addr)
		}
		p := binary.LittleEndian.Uint64(b[:])
		if p == 0 {
			break
		}
		if i > 0 {
			out = append(out, ", "...)
		}
		if i == traceMaxStr {
			out = append(out, "..."...)
			break
		}
		out = t.appendGuestString(out, p, traceMaxStr, true)
	}
	return append(out, ']')
}

// appendGuestEnvp appends an environment as strace does by default: its
// address and a count.
func (t *Task) appendGuestEnvp(dst []byte, addr uint64) []byte {
	if addr == 0 {
		return append(dst, "NULL"...)
	}
	var b [8]byte
	n := 0
	for ; n < 1<<16; n++ {
		if _, err := t.CopyIn(abi.Addr(addr+uint64(n)*8), b[:]); err != nil {
			return appendHex(dst, addr)
		}
		if binary.LittleEndian.Uint64(b[:]) == 0 {
			break
		}
	}
	dst = strconv.AppendInt(append(appendHex(dst, addr), " /* "...), int64(n), 10)
	if n == 1 {
		return append(dst, " var */"...)
	}
	return append(dst, " vars */"...)
}

// appendDirents appends a getdents64 buffer as strace does without -v:
// its address and how many entries the call returned.
func (t *Task) appendDirents(dst []byte, addr, ret uint64, failed bool) []byte {
	if failed || ret > 1<<20 {
		return appendPtr(dst, addr)
	}
	buf := make([]byte, ret)
	if _, err := t.CopyIn(abi.Addr(addr), buf); err != nil {
		return appendHex(dst, addr)
	}
	n := 0
	for off := 0; off+19 <= len(buf); n++ {
		reclen := int(binary.LittleEndian.Uint16(buf[off+16:]))
		if reclen == 0 {
			break
		}
		off += reclen
	}
	dst = strconv.AppendInt(append(appendHex(dst, addr), " /* "...), int64(n), 10)
	if n == 1 {
		return append(dst, " entry */"...)
	}
	return append(dst, " entries */"...)
}
