package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Sockets.
//
// A guest socket is a host socket: every call is the host's call on the
// host descriptor behind the guest number, so the host's network stack,
// errors and options are the guest's. elfuse translates only what names
// guest state: descriptor numbers (the FDTable, and SCM_RIGHTS in
// sys_socket_msg.go), AF_UNIX path names (sockaddr.go), and process ids in
// credentials (sys_socket_msg.go, sys_socket_opt.go). Data moves between
// the socket and guest memory without a copy, as for read and write.
//
// Calls that wait (accept, connect, recv and send on a blocking socket)
// wait through fd_wait.go, so a guest signal interrupts them and the
// socket's SO_RCVTIMEO/SO_SNDTIMEO still bound them.
//
// Families: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK; others are
// EAFNOSUPPORT, as on a kernel built without them.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_SOCKET:      {Name: "socket", Fn: Socket, Support: Partial, Note: "AF_UNIX, AF_INET, AF_INET6, AF_NETLINK"},
		abi.SYS_SOCKETPAIR:  {Name: "socketpair", Fn: Socketpair},
		abi.SYS_BIND:        {Name: "bind", Fn: Bind},
		abi.SYS_LISTEN:      {Name: "listen", Fn: Listen},
		abi.SYS_ACCEPT:      {Name: "accept", Fn: Accept},
		abi.SYS_ACCEPT4:     {Name: "accept4", Fn: Accept4},
		abi.SYS_CONNECT:     {Name: "connect", Fn: Connect},
		abi.SYS_GETSOCKNAME: {Name: "getsockname", Fn: Getsockname},
		abi.SYS_GETPEERNAME: {Name: "getpeername", Fn: Getpeername},
		abi.SYS_SHUTDOWN:    {Name: "shutdown", Fn: Shutdown},
		abi.SYS_SENDTO:      {Name: "sendto", Fn: Sendto},
		abi.SYS_RECVFROM:    {Name: "recvfrom", Fn: Recvfrom},
		abi.SYS_SENDMSG:     {Name: "sendmsg", Fn: Sendmsg, Support: Partial, Note: "SCM_CREDENTIALS: only the sender's own pid is translated"},
		abi.SYS_RECVMSG:     {Name: "recvmsg", Fn: Recvmsg, Support: Partial, Note: "SCM_CREDENTIALS: only the receiver's own pid is translated"},
		abi.SYS_SENDMMSG:    {Name: "sendmmsg", Fn: Sendmmsg},
		abi.SYS_RECVMMSG:    {Name: "recvmmsg", Fn: Recvmmsg},
		abi.SYS_SETSOCKOPT:  {Name: "setsockopt", Fn: Setsockopt, Support: Partial, Note: "no SO_PEERPIDFD or TCP_ZEROCOPY_RECEIVE"},
		abi.SYS_GETSOCKOPT:  {Name: "getsockopt", Fn: Getsockopt, Support: Partial, Note: "SO_PEERCRED translates only the caller's own pid; no SO_PEERPIDFD or TCP_ZEROCOPY_RECEIVE"},
	})
}

// socketFamilySupported reports whether socket(2) serves family.
func socketFamilySupported(family int) bool {
	switch family {
	case abi.AF_UNIX, abi.AF_INET, abi.AF_INET6, abi.AF_NETLINK:
		return true
	}
	return false
}

// sockTypeFlags checks the flags a socket type argument carries (EINVAL
// for any but SOCK_NONBLOCK and SOCK_CLOEXEC) and returns the guest's
// close-on-exec choice.
func sockTypeFlags(typ int) (cloexec bool, err error) {
	if typ&^(abi.SOCK_TYPE_MASK|abi.SOCK_NONBLOCK|abi.SOCK_CLOEXEC) != 0 {
		return false, abi.EINVAL
	}
	return typ&abi.SOCK_CLOEXEC != 0, nil
}

// acquireSocket returns the host file behind guest fd with a reference,
// EBADF if fd is not open and ENOTSOCK if it is not a socket, as Linux's
// sockfd_lookup checks before anything else.
func (t *Task) acquireSocket(fd int32) (*HostFile, error) {
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return nil, err
	}
	if f.waitKind() != kindSocket {
		f.Release()
		return nil, abi.ENOTSOCK
	}
	return f, nil
}

// Socket implements Linux syscall socket(2).
func Socket(t *Task, a *Args) (uint64, error) {
	family, typ, proto := int(a.Int(0)), int(a.Int(1)), int(a.Int(2))
	cloexec, err := sockTypeFlags(typ)
	if err != nil {
		return 0, err
	}
	if !socketFamilySupported(family) {
		return 0, abi.EAFNOSUPPORT
	}
	if err := t.Proc.FDs.Available(); err != nil {
		return 0, err
	}
	h, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return 0, err
	}
	return t.installHost(h, cloexec)
}

// Socketpair implements Linux syscall socketpair(2).
func Socketpair(t *Task, a *Args) (uint64, error) {
	family, typ, proto, sv := int(a.Int(0)), int(a.Int(1)), int(a.Int(2)), a.Addr(3)
	cloexec, err := sockTypeFlags(typ)
	if err != nil {
		return 0, err
	}
	if !socketFamilySupported(family) {
		return 0, abi.EAFNOSUPPORT
	}
	host, err := unix.Socketpair(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return 0, err
	}
	fds := t.Proc.FDs
	g0, err := fds.Install(host[0], cloexec, 0)
	if err != nil {
		unix.Close(host[0])
		unix.Close(host[1])
		return 0, err
	}
	g1, err := fds.Install(host[1], cloexec, 0)
	if err != nil {
		fds.Close(g0)
		unix.Close(host[1])
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(g0))
	binary.LittleEndian.PutUint32(b[4:], uint32(g1))
	if _, err := t.CopyOut(sv, b[:]); err != nil {
		fds.Close(g0)
		fds.Close(g1)
		return 0, err
	}
	return 0, nil
}

// Bind implements Linux syscall bind(2).
func Bind(t *Task, a *Args) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	addr, release, err := t.copyInSockaddr(a.Addr(1), a.Uint(2), true)
	if err != nil {
		return 0, err
	}
	defer release()
	return 0, hostBind(f.FD(), addr)
}

// Listen implements Linux syscall listen(2).
func Listen(t *Task, a *Args) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	return 0, unix.Listen(f.FD(), int(a.Int(1)))
}

// Connect implements Linux syscall connect(2).
func Connect(t *Task, a *Args) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	addr, release, err := t.copyInSockaddr(a.Addr(1), a.Uint(2), false)
	if err != nil {
		return 0, err
	}
	defer release()
	return 0, t.connect(f, addr)
}

// connect is the core of connect(2). A non-blocking socket gets the host's
// answer (EINPROGRESS...). A blocking AF_UNIX connect completes at once
// unless the listener's backlog is full, and is made directly. A blocking
// connect of the other families can take a network round trip or a
// timeout; so that a guest signal can cut it short, it runs as a
// non-blocking connect, then an interruptible wait for the socket to
// become writable (bounded by SO_SNDTIMEO, after which the guest sees
// EINPROGRESS, as Linux returns), then the non-blocking connect again,
// which reports the outcome and marks the socket connected, as the
// blocking call would have (a later connect is then EISCONN). A restarted
// or repeated connect finds the attempt in progress (EALREADY) and waits
// again, as Linux's does. The socket is non-blocking on the host only for
// the instant of each call.
func (t *Task) connect(f *HostFile, addr []byte) error {
	fd := f.FD()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if fl&unix.O_NONBLOCK != 0 {
		return t.waitLock(func() error { return hostConnect(fd, addr) })
	}
	if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom == unix.AF_UNIX {
		return t.waitLock(func() error { return hostConnect(fd, addr) })
	}
	for {
		err := connectNonblock(fd, fl, addr)
		if err != unix.EINPROGRESS && err != unix.EALREADY {
			return err
		}
		switch err := t.waitReady(f, unix.POLLOUT); err {
		case nil:
		case abi.EAGAIN:
			return errEINPROGRESS
		default:
			return err
		}
	}
}

// connectNonblock runs connect(2) on fd with O_NONBLOCK set for the call;
// fl are the file's status flags to restore.
func connectNonblock(fd, fl int, addr []byte) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
		return err
	}
	var err error
	for {
		if err = hostConnect(fd, addr); err != unix.EINTR {
			break
		}
	}
	if _, e := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl); e != nil && err == nil {
		err = e
	}
	return err
}

// accept4 is the core of accept and accept4. As Linux, it takes a
// descriptor number first (EMFILE before a connection is taken) and
// stores the peer address after: if that store fails the connection is
// dropped.
func (t *Task) accept4(fd int32, addr, lenAddr abi.Addr, flags int) (uint64, error) {
	if flags&^(abi.SOCK_NONBLOCK|abi.SOCK_CLOEXEC) != 0 {
		return 0, abi.EINVAL
	}
	f, err := t.acquireSocket(fd)
	if err != nil {
		return 0, err
	}
	defer f.Release()
	if err := t.Proc.FDs.Available(); err != nil {
		return 0, err
	}
	var name []byte
	if addr != 0 {
		name = make([]byte, abi.SizeofSockaddrStorage)
	}
	var namelen int
	nfd, err := t.waitIO(func() (int, error) {
		var n int
		var err error
		n, namelen, err = hostAccept4(f.FD(), name, flags|unix.SOCK_CLOEXEC)
		return n, err
	}, ioWait{f, unix.POLLIN})
	if err != nil {
		return 0, err
	}
	if addr != 0 {
		if err := t.copyOutSockaddr(addr, lenAddr, name, namelen); err != nil {
			unix.Close(nfd)
			return 0, err
		}
	}
	return t.installHost(nfd, flags&abi.SOCK_CLOEXEC != 0)
}

// Accept implements Linux syscall accept(2).
func Accept(t *Task, a *Args) (uint64, error) {
	return t.accept4(a.Int(0), a.Addr(1), a.Addr(2), 0)
}

// Accept4 implements Linux syscall accept4(2).
func Accept4(t *Task, a *Args) (uint64, error) {
	return t.accept4(a.Int(0), a.Addr(1), a.Addr(2), int(a.Int(3)))
}

// sockName is the core of getsockname and getpeername.
func (t *Task) sockName(a *Args, call func(fd int, b []byte) (int, error)) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	name := make([]byte, abi.SizeofSockaddrStorage)
	n, err := call(f.FD(), name)
	if err != nil {
		return 0, err
	}
	return 0, t.copyOutSockaddr(a.Addr(1), a.Addr(2), name, n)
}

// Getsockname implements Linux syscall getsockname(2).
func Getsockname(t *Task, a *Args) (uint64, error) {
	return t.sockName(a, hostGetsockname)
}

// Getpeername implements Linux syscall getpeername(2).
func Getpeername(t *Task, a *Args) (uint64, error) {
	return t.sockName(a, hostGetpeername)
}

// Shutdown implements Linux syscall shutdown(2).
func Shutdown(t *Task, a *Args) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	return 0, unix.Shutdown(f.FD(), int(a.Int(1)))
}
