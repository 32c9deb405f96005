package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Socket options pass through as bytes at every level (the host answers
// ENOPROTOOPT or EOPNOTSUPP for levels a socket lacks, as Linux would);
// the host checks each option's length and value. None of the levels of
// the families elfuse serves carries a pointer or a descriptor except
// those handled here. What
// elfuse rewrites: the pointer inside struct sock_fprog (classic BPF
// filters), the descriptor number of an eBPF program, and the pid of
// SO_PEERCRED. Options that hand out descriptors or map memory into the
// caller (SO_PEERPIDFD, TCP_ZEROCOPY_RECEIVE) are ENOPROTOOPT, as on a
// kernel that lacks them.

// maxSockopt bounds the option buffer elfuse copies; Linux's own
// allocation for an option value fails far below it.
const maxSockopt = 1 << 20

// sockoptUnsupported reports options elfuse refuses at any length.
func sockoptUnsupported(level, opt int32) bool {
	return (level == abi.SOL_SOCKET && opt == abi.SO_PEERPIDFD) ||
		(level == abi.IPPROTO_TCP && opt == abi.TCP_ZEROCOPY_RECEIVE)
}

// Setsockopt implements Linux syscall setsockopt(2).
func Setsockopt(t *Task, a *Args) (uint64, error) {
	level, opt, val, optlen := a.Int(1), a.Int(2), a.Addr(3), a.Int(4)
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	if optlen < 0 {
		return 0, abi.EINVAL
	}
	if sockoptUnsupported(level, opt) {
		return 0, errENOPROTOOPT
	}
	if optlen > maxSockopt {
		return 0, abi.ENOMEM
	}
	b := make([]byte, optlen)
	if optlen > 0 {
		if _, err := t.CopyIn(val, b); err != nil {
			return 0, err
		}
	}
	if level == abi.SOL_SOCKET {
		switch opt {
		case abi.SO_ATTACH_FILTER, abi.SO_ATTACH_REUSEPORT_CBPF:
			return 0, t.attachFilter(f.FD(), int(level), int(opt), b)
		case abi.SO_ATTACH_BPF, abi.SO_ATTACH_REUSEPORT_EBPF:
			if len(b) < 4 {
				return 0, abi.EINVAL
			}
			prog, err := t.Proc.FDs.Acquire(int32(binary.LittleEndian.Uint32(b)))
			if err != nil {
				return 0, err
			}
			defer prog.Release()
			binary.LittleEndian.PutUint32(b, uint32(prog.FD()))
		}
	}
	return 0, hostSetsockopt(f.FD(), int(level), int(opt), b)
}

// attachFilter installs a classic BPF program from a guest struct
// sock_fprog, whose filter pointer is a guest address.
func (t *Task) attachFilter(fd, level, opt int, fprog []byte) error {
	if len(fprog) < abi.SizeofSockFprog {
		return abi.EINVAL
	}
	n := binary.LittleEndian.Uint16(fprog)
	raw := make([]byte, int(n)*abi.SizeofSockFilter)
	if _, err := t.CopyIn(abi.Addr(binary.LittleEndian.Uint64(fprog[8:])), raw); err != nil {
		return err
	}
	insns := make([]unix.SockFilter, n)
	for i := range insns {
		r := raw[i*abi.SizeofSockFilter:]
		insns[i] = unix.SockFilter{
			Code: binary.LittleEndian.Uint16(r),
			Jt:   r[2],
			Jf:   r[3],
			K:    binary.LittleEndian.Uint32(r[4:]),
		}
	}
	return hostSetsockoptFprog(fd, level, opt, insns, n)
}

// Getsockopt implements Linux syscall getsockopt(2). The guest's buffer
// is copied in first (as far as it is readable) because some options take
// input there.
func Getsockopt(t *Task, a *Args) (uint64, error) {
	level, opt, val, lenAddr := a.Int(1), a.Int(2), a.Addr(3), a.Addr(4)
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	var lb [4]byte
	if _, err := t.CopyIn(lenAddr, lb[:]); err != nil {
		return 0, err
	}
	optlen := int32(binary.LittleEndian.Uint32(lb[:]))
	if optlen < 0 {
		return 0, abi.EINVAL
	}
	if sockoptUnsupported(level, opt) {
		return 0, errENOPROTOOPT
	}
	b := make([]byte, min(optlen, maxSockopt))
	if len(b) > 0 {
		_, _ = t.CopyIn(val, b)
	}
	n, err := hostGetsockopt(f.FD(), int(level), int(opt), b)
	if err != nil {
		return 0, err
	}
	out := b[:min(n, len(b))]
	if level == abi.SOL_SOCKET && opt == abi.SO_PEERCRED && len(out) >= 4 {
		pid := int32(binary.LittleEndian.Uint32(out))
		binary.LittleEndian.PutUint32(out, uint32(t.guestPidOf(pid)))
	}
	if len(out) > 0 {
		if _, err := t.CopyOut(val, out); err != nil {
			return 0, err
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(n))
	_, err = t.CopyOut(lenAddr, lb[:])
	return 0, err
}
