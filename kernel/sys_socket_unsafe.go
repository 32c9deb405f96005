package kernel

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw host socket calls. x/sys/unix only takes addresses as parsed
// Sockaddr values, which cannot carry every byte string a guest may pass
// (autobind, unterminated or abstract AF_UNIX names, odd lengths), and
// returns them parsed; these wrappers hand the bytes through unchanged.
// Every buffer is a Go slice or a view of guest memory; none is retained
// after the call.

// bufPtr returns a pointer to b's first byte, nil for an empty slice. Call
// sites convert it to uintptr inside the Syscall argument list, so the
// compiler keeps the buffer alive and in place for the call.
func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// errnoErr returns nil for 0 and the errno otherwise.
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// hostSockaddrCall runs bind(2) or connect(2) with the raw address addr.
func hostSockaddrCall(nr uintptr, fd int, addr []byte) error {
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(bufPtr(addr)), uintptr(len(addr)))
	runtime.KeepAlive(addr)
	return errnoErr(e)
}

// hostBind is bind(2) with a raw address.
func hostBind(fd int, addr []byte) error { return hostSockaddrCall(unix.SYS_BIND, fd, addr) }

// hostConnect is connect(2) with a raw address.
func hostConnect(fd int, addr []byte) error { return hostSockaddrCall(unix.SYS_CONNECT, fd, addr) }

// hostNameCall runs a call that returns an address into buf (accept4,
// getsockname, getpeername) and returns its result and the address length
// the host reported (which may exceed len(buf)). A nil buf passes NULL.
func hostNameCall(nr uintptr, fd int, buf []byte, arg uintptr) (r int, addrlen int, err error) {
	l := uint32(len(buf))
	var lp *uint32
	if buf != nil {
		lp = &l
	}
	v, _, e := unix.Syscall6(nr, uintptr(fd), uintptr(bufPtr(buf)), uintptr(unsafe.Pointer(lp)), arg, 0, 0)
	runtime.KeepAlive(buf)
	runtime.KeepAlive(&l)
	if e != 0 {
		return -1, 0, e
	}
	return int(v), int(l), nil
}

// hostAccept4 is accept4(2); addr nil asks for no peer address.
func hostAccept4(fd int, addr []byte, flags int) (nfd, addrlen int, err error) {
	return hostNameCall(unix.SYS_ACCEPT4, fd, addr, uintptr(flags))
}

// hostGetsockname is getsockname(2).
func hostGetsockname(fd int, addr []byte) (addrlen int, err error) {
	_, addrlen, err = hostNameCall(unix.SYS_GETSOCKNAME, fd, addr, 0)
	return addrlen, err
}

// hostGetpeername is getpeername(2).
func hostGetpeername(fd int, addr []byte) (addrlen int, err error) {
	_, addrlen, err = hostNameCall(unix.SYS_GETPEERNAME, fd, addr, 0)
	return addrlen, err
}

// hostSendto is sendto(2); an empty addr sends to the connected peer.
func hostSendto(fd int, b []byte, flags int, addr []byte) (int, error) {
	v, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(bufPtr(b)), uintptr(len(b)), uintptr(flags),
		uintptr(bufPtr(addr)), uintptr(len(addr)))
	runtime.KeepAlive(b)
	runtime.KeepAlive(addr)
	if e != 0 {
		return 0, e
	}
	return int(v), nil
}

// hostRecvfrom is recvfrom(2); a nil addr asks for no source address.
func hostRecvfrom(fd int, b []byte, flags int, addr []byte) (n, addrlen int, err error) {
	l := uint32(len(addr))
	var lp *uint32
	if addr != nil {
		lp = &l
	}
	v, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(bufPtr(b)), uintptr(len(b)), uintptr(flags),
		uintptr(bufPtr(addr)), uintptr(unsafe.Pointer(lp)))
	runtime.KeepAlive(b)
	runtime.KeepAlive(addr)
	runtime.KeepAlive(&l)
	if e != 0 {
		return 0, 0, e
	}
	return int(v), int(l), nil
}

// hostMsg is a host msghdr in Go terms. The lengths the host writes back
// (name, control, flags) land in the fields after recvmsg.
type hostMsg struct {
	name    []byte // nil: msg_name NULL
	iovs    [][]byte
	control []byte
	// Results of recvmsg.
	namelen    int
	controllen int
	flags      int
}

// hostMsgCall runs sendmsg(2) or recvmsg(2) with m.
func hostMsgCall(nr uintptr, fd int, m *hostMsg, flags int) (int, error) {
	iov := make([]unix.Iovec, len(m.iovs))
	for i, b := range m.iovs {
		if len(b) > 0 {
			iov[i].Base = &b[0]
		}
		iov[i].SetLen(len(b))
	}
	var h unix.Msghdr
	if len(m.name) > 0 {
		h.Name = &m.name[0]
		h.Namelen = uint32(len(m.name))
	}
	if len(iov) > 0 {
		h.Iov = &iov[0]
		h.SetIovlen(len(iov))
	}
	if len(m.control) > 0 {
		h.Control = &m.control[0]
		h.SetControllen(len(m.control))
	}
	v, _, e := unix.Syscall(nr, uintptr(fd), uintptr(unsafe.Pointer(&h)), uintptr(flags))
	runtime.KeepAlive(m)
	runtime.KeepAlive(iov)
	if e != 0 {
		return 0, e
	}
	m.namelen = int(h.Namelen)
	m.controllen = int(h.Controllen)
	m.flags = int(h.Flags)
	return int(v), nil
}

// hostSendmsg is sendmsg(2).
func hostSendmsg(fd int, m *hostMsg, flags int) (int, error) {
	return hostMsgCall(unix.SYS_SENDMSG, fd, m, flags)
}

// hostRecvmsg is recvmsg(2).
func hostRecvmsg(fd int, m *hostMsg, flags int) (int, error) {
	return hostMsgCall(unix.SYS_RECVMSG, fd, m, flags)
}

// hostSetsockopt is setsockopt(2) with the raw option bytes.
func hostSetsockopt(fd, level, opt int, val []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(bufPtr(val)), uintptr(len(val)), 0)
	runtime.KeepAlive(val)
	return errnoErr(e)
}

// hostGetsockopt is getsockopt(2) into val; it returns the option length
// the host reported.
func hostGetsockopt(fd, level, opt int, val []byte) (int, error) {
	l := uint32(len(val))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(bufPtr(val)), uintptr(unsafe.Pointer(&l)), 0)
	runtime.KeepAlive(val)
	runtime.KeepAlive(&l)
	if e != 0 {
		return 0, e
	}
	return int(l), nil
}

// hostSetsockoptFprog attaches a classic BPF program (SO_ATTACH_FILTER and
// SO_ATTACH_REUSEPORT_CBPF), whose struct sock_fprog points at the
// instructions.
func hostSetsockoptFprog(fd, level, opt int, insns []unix.SockFilter, n uint16) error {
	p := unix.SockFprog{Len: n}
	if len(insns) > 0 {
		p.Filter = &insns[0]
	}
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&p)), unsafe.Sizeof(p), 0)
	runtime.KeepAlive(insns)
	runtime.KeepAlive(&p)
	return errnoErr(e)
}

// hostIoctlBuf runs ioctl(2) on fd with a pointer to buf.
func hostIoctlBuf(fd int, req uint32, buf []byte) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(bufPtr(buf)))
	runtime.KeepAlive(buf)
	return errnoErr(e)
}

// hostIfconf is struct ifconf with a host buffer.
type hostIfconf struct {
	len int32
	_   int32
	buf *byte
}

// hostGetIfconf runs SIOCGIFCONF into buf (nil: ask for the length
// needed) and returns the length the host reported.
func hostGetIfconf(fd int, buf []byte) (int, error) {
	c := hostIfconf{len: int32(len(buf))}
	if len(buf) > 0 {
		c.buf = &buf[0]
	}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFCONF, uintptr(unsafe.Pointer(&c)))
	runtime.KeepAlive(buf)
	if e != 0 {
		return 0, e
	}
	return int(c.len), nil
}
