package kernel

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// guestSocketpair makes a socketpair in the guest and returns its ends.
func guestSocketpair(t *testing.T, task *Task, mem *fileTestMem, typ uint64) (a, b uint64) {
	t.Helper()
	sv := mem.alloc(8)
	mustSys(t, task, abi.SYS_SOCKETPAIR, abi.AF_UNIX, typ, 0, uint64(sv))
	return uint64(mem.u32(sv)), uint64(mem.u32(sv + 4))
}

// sockaddrIn stores a struct sockaddr_in for 127.0.0.1:port (port in host
// order) and returns its address.
func sockaddrIn(mem *fileTestMem, port uint16) abi.Addr {
	a := mem.alloc(16)
	b := mem.bytesAt(a, 16)
	clear(b)
	binary.LittleEndian.PutUint16(b, abi.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], []byte{127, 0, 0, 1})
	return a
}

// sockaddrUn stores a struct sockaddr_un for path and returns its address
// and length.
func sockaddrUn(mem *fileTestMem, path string) (abi.Addr, uint64) {
	a := mem.alloc(abi.SizeofSockaddrUn)
	b := mem.bytesAt(a, abi.SizeofSockaddrUn)
	clear(b)
	binary.LittleEndian.PutUint16(b, abi.AF_UNIX)
	copy(b[2:], path)
	return a, uint64(2 + len(path) + 1)
}

// u32At stores v at a fresh address and returns it.
func u32At(mem *fileTestMem, v uint32) abi.Addr {
	a := mem.alloc(4)
	binary.LittleEndian.PutUint32(mem.bytesAt(a, 4), v)
	return a
}

func TestSocketpairCarriesDataAndHonoursTypeFlags(t *testing.T) {
	task, mem := newFileTestTask(t)
	a, b := guestSocketpair(t, task, mem, abi.SOCK_STREAM|abi.SOCK_CLOEXEC|abi.SOCK_NONBLOCK)
	if a != 3 || b != 4 {
		t.Errorf("socketpair gave %d, %d; want 3, 4", a, b)
	}
	if v := mustSys(t, task, abi.SYS_FCNTL, a, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("SOCK_CLOEXEC end: F_GETFD = %d", v)
	}
	buf := mem.alloc(16)
	wantErrno(t, abi.EAGAIN, task, abi.SYS_RECVFROM, b, uint64(buf), 16, 0, 0, 0)
	if n := mustSys(t, task, abi.SYS_SENDTO, a, uint64(mem.str("hello")), 5, 0, 0, 0); n != 5 {
		t.Errorf("sendto = %d", n)
	}
	if n := mustSys(t, task, abi.SYS_RECVFROM, b, uint64(buf), 16, 0, 0, 0); string(mem.bytesAt(buf, int(n))) != "hello" {
		t.Errorf("recvfrom got %q", mem.bytesAt(buf, int(n)))
	}
}

func TestSocketpairFailedCopyOutClosesBothEnds(t *testing.T) {
	task, mem := newFileTestTask(t)
	before := len(task.Proc.FDs.Entries())
	mem.roStart = mem.alloc(4096)
	mem.roEnd = mem.roStart + 4096
	wantErrno(t, abi.EFAULT, task, abi.SYS_SOCKETPAIR, abi.AF_UNIX, abi.SOCK_STREAM, 0, uint64(mem.roStart-4))
	if after := len(task.Proc.FDs.Entries()); after != before {
		t.Errorf("%d descriptors leaked", after-before)
	}
}

func TestSocketCallsCheckTheirArguments(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, _ := guestPipe(t, task, mem, 0)
	s, _ := guestSocketpair(t, task, mem, abi.SOCK_DGRAM)
	buf := uint64(mem.alloc(64))
	tests := []struct {
		name string
		nr   uint64
		args []uint64
		want abi.Errno
	}{
		{"socket with unknown type flags", abi.SYS_SOCKET, []uint64{abi.AF_UNIX, abi.SOCK_STREAM | 0x100, 0}, abi.EINVAL},
		{"socket of an unserved family", abi.SYS_SOCKET, []uint64{abi.AF_PACKET, abi.SOCK_RAW, 0}, abi.EAFNOSUPPORT},
		{"socketpair of an unserved family", abi.SYS_SOCKETPAIR, []uint64{12345, abi.SOCK_STREAM, 0, buf}, abi.EAFNOSUPPORT},
		{"bind on a pipe", abi.SYS_BIND, []uint64{r, buf, 16}, abi.ENOTSOCK},
		{"listen on a closed number", abi.SYS_LISTEN, []uint64{99, 1}, abi.EBADF},
		{"connect on a pipe", abi.SYS_CONNECT, []uint64{r, buf, 16}, abi.ENOTSOCK},
		{"accept on a pipe", abi.SYS_ACCEPT, []uint64{r, 0, 0}, abi.ENOTSOCK},
		{"accept4 with unknown flags", abi.SYS_ACCEPT4, []uint64{s, 0, 0, 0x100}, abi.EINVAL},
		{"getsockname on a pipe", abi.SYS_GETSOCKNAME, []uint64{r, buf, buf + 32}, abi.ENOTSOCK},
		{"sendto on a pipe", abi.SYS_SENDTO, []uint64{r, buf, 1, 0, 0, 0}, abi.ENOTSOCK},
		{"recvmsg on a pipe", abi.SYS_RECVMSG, []uint64{r, buf, 0}, abi.ENOTSOCK},
		{"shutdown on a pipe", abi.SYS_SHUTDOWN, []uint64{r, abi.SHUT_RDWR}, abi.ENOTSOCK},
		{"setsockopt on a pipe", abi.SYS_SETSOCKOPT, []uint64{r, abi.SOL_SOCKET, abi.SO_TYPE, buf, 4}, abi.ENOTSOCK},
		{"bind with a negative length", abi.SYS_BIND, []uint64{s, buf, uint64(1<<32 - 1)}, abi.EINVAL},
		{"bind longer than sockaddr_storage", abi.SYS_BIND, []uint64{s, buf, 129}, abi.EINVAL},
		{"bind from a bad pointer", abi.SYS_BIND, []uint64{s, uint64(fileBadAddr), 16}, abi.EFAULT},
		{"connect from a bad pointer", abi.SYS_CONNECT, []uint64{s, uint64(fileBadAddr), 16}, abi.EFAULT},
		{"sendto a bad buffer", abi.SYS_SENDTO, []uint64{s, uint64(fileBadAddr), 4, 0, 0, 0}, abi.EFAULT},
		{"recvmsg from a bad msghdr", abi.SYS_RECVMSG, []uint64{s, uint64(fileBadAddr), 0}, abi.EFAULT},
		{"getsockname into a bad length", abi.SYS_GETSOCKNAME, []uint64{s, buf, uint64(fileBadAddr)}, abi.EFAULT},
		{"setsockopt with a negative length", abi.SYS_SETSOCKOPT, []uint64{s, abi.SOL_SOCKET, abi.SO_RCVBUF, buf, uint64(1<<32 - 1)}, abi.EINVAL},
		{"setsockopt SO_PEERPIDFD", abi.SYS_GETSOCKOPT, []uint64{s, abi.SOL_SOCKET, abi.SO_PEERPIDFD, buf, uint64(u32At(mem, 4))}, errENOPROTOOPT},
		{"getsockopt with a negative length", abi.SYS_GETSOCKOPT, []uint64{s, abi.SOL_SOCKET, abi.SO_TYPE, buf, uint64(u32At(mem, 1<<31))}, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErrno(t, tc.want, task, tc.nr, tc.args...) })
	}
}

func TestUnixPath(t *testing.T) {
	un := func(family uint16, rest string) []byte {
		b := binary.LittleEndian.AppendUint16(nil, family)
		return append(b, rest...)
	}
	tests := []struct {
		name string
		addr []byte
		path string
		ok   bool
	}{
		{"terminated path", un(abi.AF_UNIX, "/run/x.sock\x00"), "/run/x.sock", true},
		{"unterminated path", un(abi.AF_UNIX, "rel.sock"), "rel.sock", true},
		{"path followed by junk after the NUL", un(abi.AF_UNIX, "a\x00junk"), "a", true},
		{"abstract name", un(abi.AF_UNIX, "\x00abstract"), "", false},
		{"autobind", un(abi.AF_UNIX, ""), "", false},
		{"inet address", un(abi.AF_INET, "\x00\x50\x7f\x00\x00\x01"), "", false},
		{"longer than sockaddr_un", un(abi.AF_UNIX, string(make([]byte, 109))), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, ok := unixPath(tc.addr)
			if path != tc.path || ok != tc.ok {
				t.Errorf("unixPath = %q, %v; want %q, %v", path, ok, tc.path, tc.ok)
			}
		})
	}
}

func TestCopyOutSockaddrFollowsMoveAddrToUser(t *testing.T) {
	name := []byte{1, 0, 'a', 'b', 'c', 'd', 0}
	tests := []struct {
		name     string
		ulen     uint32
		badLen   bool
		want     abi.Errno
		wantData string
	}{
		{"room for all", 64, false, 0, "\x01\x00abcd\x00"},
		{"truncated to the guest's length", 4, false, 0, "\x01\x00ab"},
		{"zero length writes only the length", 0, false, 0, ""},
		{"negative length", 1 << 31, false, abi.EINVAL, ""},
		{"bad length pointer", 0, true, abi.EFAULT, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newFileTestTask(t)
			out := mem.alloc(64)
			lenAddr := u32At(mem, tc.ulen)
			if tc.badLen {
				lenAddr = fileBadAddr
			}
			err := task.copyOutSockaddr(out, lenAddr, name, len(name))
			if got := fileErrnoOf(err); got != tc.want {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want != 0 {
				return
			}
			if got := string(mem.bytesAt(out, len(tc.wantData))); got != tc.wantData {
				t.Errorf("address bytes %q, want %q", got, tc.wantData)
			}
			if l := mem.u32(lenAddr); l != uint32(len(name)) {
				t.Errorf("length written %d, want the full %d", l, len(name))
			}
		})
	}
}

func TestUnixStreamBindListenConnectAccept(t *testing.T) {
	task, mem := newFileTestTask(t)
	path := filepath.Join(t.TempDir(), "s.sock")
	addr, alen := sockaddrUn(mem, path)
	srv := mustSys(t, task, abi.SYS_SOCKET, abi.AF_UNIX, abi.SOCK_STREAM, 0)
	mustSys(t, task, abi.SYS_BIND, srv, uint64(addr), alen)
	mustSys(t, task, abi.SYS_LISTEN, srv, 8)
	cli := mustSys(t, task, abi.SYS_SOCKET, abi.AF_UNIX, abi.SOCK_STREAM, 0)
	mustSys(t, task, abi.SYS_CONNECT, cli, uint64(addr), alen)
	peer := mem.alloc(abi.SizeofSockaddrStorage)
	plen := u32At(mem, abi.SizeofSockaddrStorage)
	conn := mustSys(t, task, abi.SYS_ACCEPT4, srv, uint64(peer), uint64(plen), abi.SOCK_CLOEXEC)
	if v := mustSys(t, task, abi.SYS_FCNTL, conn, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("accept4(SOCK_CLOEXEC): F_GETFD = %d", v)
	}
	if l := mem.u32(plen); l != 2 {
		t.Errorf("unbound client's address length %d, want 2 (family only)", l)
	}
	binary.LittleEndian.PutUint32(mem.bytesAt(plen, 4), abi.SizeofSockaddrStorage)
	mustSys(t, task, abi.SYS_GETPEERNAME, cli, uint64(peer), uint64(plen))
	if got, want := string(mem.bytesAt(peer+2, len(path))), path; got != want {
		t.Errorf("client's peer %q, want %q", got, want)
	}
	mustSys(t, task, abi.SYS_SENDTO, cli, uint64(mem.str("req")), 3, 0, 0, 0)
	buf := mem.alloc(8)
	if n := mustSys(t, task, abi.SYS_READ, conn, uint64(buf), 8); string(mem.bytesAt(buf, int(n))) != "req" {
		t.Errorf("server read %q", mem.bytesAt(buf, int(n)))
	}
	wantErrno(t, abi.Errno(unix.EADDRINUSE), task, abi.SYS_BIND,
		mustSys(t, task, abi.SYS_SOCKET, abi.AF_UNIX, abi.SOCK_STREAM, 0), uint64(addr), alen)
}

func TestTCPBlockingConnect(t *testing.T) {
	task, mem := newFileTestTask(t)
	srv := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_STREAM, 0)
	any := sockaddrIn(mem, 0)
	mustSys(t, task, abi.SYS_BIND, srv, uint64(any), 16)
	mustSys(t, task, abi.SYS_LISTEN, srv, 1)
	bound := mem.alloc(16)
	mustSys(t, task, abi.SYS_GETSOCKNAME, srv, uint64(bound), uint64(u32At(mem, 16)))
	cli := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_STREAM, 0)
	mustSys(t, task, abi.SYS_CONNECT, cli, uint64(bound), 16)
	if fl := mustSys(t, task, abi.SYS_FCNTL, cli, abi.F_GETFL); fl&abi.O_NONBLOCK != 0 {
		t.Errorf("connect left the socket non-blocking: flags %#o", fl)
	}
	wantErrno(t, abi.Errno(unix.EISCONN), task, abi.SYS_CONNECT, cli, uint64(bound), 16)
	mustSys(t, task, abi.SYS_CLOSE, srv)
	again := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_STREAM, 0)
	wantErrno(t, abi.Errno(unix.ECONNREFUSED), task, abi.SYS_CONNECT, again, uint64(bound), 16)
}

// msghdr stores a msghdr with one iovec over buf and a control buffer of
// controlLen bytes (0: none), and returns its address and the control
// buffer's.
func msghdr(mem *fileTestMem, buf abi.Addr, n int, controlLen int) (msg, control abi.Addr) {
	iov := mem.alloc(abi.SizeofIovec)
	(&abi.Iovec{Base: buf, Len: uint64(n)}).MarshalBytes(mem.bytesAt(iov, abi.SizeofIovec))
	m := abi.Msghdr{Iov: iov, Iovlen: 1}
	if controlLen > 0 {
		control = mem.alloc(controlLen)
		m.Control, m.Controllen = control, uint64(controlLen)
	}
	msg = mem.alloc(abi.SizeofMsghdr)
	m.MarshalBytes(mem.bytesAt(msg, abi.SizeofMsghdr))
	return msg, control
}

// putRights stores an SCM_RIGHTS message carrying fds at control.
func putRights(mem *fileTestMem, control abi.Addr, fds ...uint32) {
	h := abi.Cmsghdr{Len: abi.SizeofCmsghdr + 4*uint64(len(fds)), Level: abi.SOL_SOCKET, Type: abi.SCM_RIGHTS}
	h.MarshalBytes(mem.bytesAt(control, abi.SizeofCmsghdr))
	for i, fd := range fds {
		binary.LittleEndian.PutUint32(mem.bytesAt(control+abi.SizeofCmsghdr+abi.Addr(4*i), 4), fd)
	}
}

func TestSCMRightsTranslatesDescriptorsBothWays(t *testing.T) {
	task, mem := newFileTestTask(t)
	a, b := guestSocketpair(t, task, mem, abi.SOCK_STREAM)
	r, w := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_WRITE, w, uint64(mem.str("via pipe")), 8)
	data := mem.str("x")
	smsg, sctl := msghdr(mem, data, 1, 24)
	putRights(mem, sctl, uint32(r))
	if n := mustSys(t, task, abi.SYS_SENDMSG, a, uint64(smsg), 0); n != 1 {
		t.Fatalf("sendmsg = %d", n)
	}
	mustSys(t, task, abi.SYS_CLOSE, r)
	if v := mem.u32(sctl + abi.SizeofCmsghdr); v != uint32(r) {
		t.Errorf("sendmsg changed the guest's control buffer: fd %d, want %d", v, r)
	}

	rbuf := mem.alloc(4)
	rmsg, rctl := msghdr(mem, rbuf, 4, 24)
	if n := mustSys(t, task, abi.SYS_RECVMSG, b, uint64(rmsg), abi.MSG_CMSG_CLOEXEC); n != 1 {
		t.Fatalf("recvmsg = %d", n)
	}
	var m abi.Msghdr
	m.UnmarshalBytes(mem.bytesAt(rmsg, abi.SizeofMsghdr))
	if m.Controllen != 24 {
		t.Errorf("msg_controllen %d, want CMSG_SPACE(4) = 24", m.Controllen)
	}
	got := int32(mem.u32(rctl + abi.SizeofCmsghdr))
	if got != int32(r) {
		t.Errorf("received guest fd %d, want the lowest free number %d", got, r)
	}
	if cloexec, err := task.Proc.FDs.GetCloexec(got); err != nil || !cloexec {
		t.Errorf("received fd close-on-exec %v (%v), want true from MSG_CMSG_CLOEXEC", cloexec, err)
	}
	buf := mem.alloc(16)
	if n := mustSys(t, task, abi.SYS_READ, uint64(got), uint64(buf), 16); string(mem.bytesAt(buf, int(n))) != "via pipe" {
		t.Errorf("read through the received fd: %q", mem.bytesAt(buf, int(n)))
	}
}

func TestSCMRightsOfAClosedNumberIsEBADF(t *testing.T) {
	task, mem := newFileTestTask(t)
	a, _ := guestSocketpair(t, task, mem, abi.SOCK_STREAM)
	msg, ctl := msghdr(mem, mem.str("x"), 1, 24)
	putRights(mem, ctl, 77)
	wantErrno(t, abi.EBADF, task, abi.SYS_SENDMSG, a, uint64(msg), 0)
}

func TestRecvmsgDropsDescriptorsTheGuestCannotSee(t *testing.T) {
	tests := []struct {
		name      string
		readOnly  bool // the control buffer cannot be written
		fullTable bool // no guest number is free
		want      abi.Errno
	}{
		{"control buffer not writable", true, false, abi.EFAULT},
		{"descriptor table full", false, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newFileTestTask(t)
			a, b := guestSocketpair(t, task, mem, abi.SOCK_STREAM)
			r, _ := guestPipe(t, task, mem, 0)
			smsg, sctl := msghdr(mem, mem.str("x"), 1, 24)
			putRights(mem, sctl, uint32(r))
			mustSys(t, task, abi.SYS_SENDMSG, a, uint64(smsg), 0)
			rmsg, rctl := msghdr(mem, mem.alloc(4), 4, 24)
			if tc.readOnly {
				mem.roStart, mem.roEnd = rctl, rctl+24
			}
			if tc.fullTable {
				task.Proc.FDs.SetLimit(uint64(len(task.Proc.FDs.Entries())))
			}
			before := len(task.Proc.FDs.Entries())
			_, err := fileSys(task, abi.SYS_RECVMSG, b, uint64(rmsg), 0)
			if got := fileErrnoOf(err); got != tc.want {
				t.Fatalf("recvmsg: %v, want %v", err, tc.want)
			}
			if after := len(task.Proc.FDs.Entries()); after != before {
				t.Errorf("%d descriptors installed that the guest never sees", after-before)
			}
			if tc.fullTable {
				flags := int32(mem.u32(rmsg + abi.MsghdrFlagsOffset))
				if flags&abi.MSG_CTRUNC == 0 {
					t.Errorf("msg_flags %#x lack MSG_CTRUNC", flags)
				}
				if fd := int32(mem.u32(rctl + abi.SizeofCmsghdr)); fd != -1 {
					t.Errorf("dropped descriptor reads %d, want -1", fd)
				}
			}
		})
	}
}

func TestMultiMessageCalls(t *testing.T) {
	task, mem := newFileTestTask(t)
	a, b := guestSocketpair(t, task, mem, abi.SOCK_DGRAM)
	words := []string{"one", "three", "five5"}
	vec := mem.alloc(len(words) * abi.SizeofMmsghdr)
	for i, w := range words {
		msg, _ := msghdr(mem, mem.str(w), len(w), 0)
		copy(mem.bytesAt(vec+abi.Addr(i*abi.SizeofMmsghdr), abi.SizeofMsghdr), mem.bytesAt(msg, abi.SizeofMsghdr))
	}
	if n := mustSys(t, task, abi.SYS_SENDMMSG, a, uint64(vec), 3, 0); n != 3 {
		t.Fatalf("sendmmsg = %d", n)
	}
	in := mem.alloc(4 * abi.SizeofMmsghdr)
	bufs := make([]abi.Addr, 4)
	for i := range bufs {
		bufs[i] = mem.alloc(8)
		msg, _ := msghdr(mem, bufs[i], 8, 0)
		copy(mem.bytesAt(in+abi.Addr(i*abi.SizeofMmsghdr), abi.SizeofMsghdr), mem.bytesAt(msg, abi.SizeofMsghdr))
	}
	n := mustSys(t, task, abi.SYS_RECVMMSG, b, uint64(in), 4, abi.MSG_WAITFORONE, 0)
	if n != 3 {
		t.Fatalf("recvmmsg(MSG_WAITFORONE) = %d, want the 3 queued", n)
	}
	for i, w := range words {
		l := mem.u32(in + abi.Addr(i*abi.SizeofMmsghdr) + abi.MmsghdrLenOffset)
		if got := string(mem.bytesAt(bufs[i], int(l))); got != w {
			t.Errorf("message %d = %q, want %q", i, got, w)
		}
	}
	wantErrno(t, abi.EAGAIN, task, abi.SYS_RECVMMSG, b, uint64(in), 4, abi.MSG_DONTWAIT, 0)
}

func TestSockoptsPassThrough(t *testing.T) {
	task, mem := newFileTestTask(t)
	s, _ := guestSocketpair(t, task, mem, abi.SOCK_DGRAM)
	val := u32At(mem, 0)
	lenAddr := u32At(mem, 4)
	mustSys(t, task, abi.SYS_GETSOCKOPT, s, abi.SOL_SOCKET, abi.SO_TYPE, uint64(val), uint64(lenAddr))
	if v, l := mem.u32(val), mem.u32(lenAddr); v != abi.SOCK_DGRAM || l != 4 {
		t.Errorf("SO_TYPE = %d (len %d), want SOCK_DGRAM (4)", v, l)
	}
	mustSys(t, task, abi.SYS_SETSOCKOPT, s, abi.SOL_SOCKET, abi.SO_PASSCRED, uint64(u32At(mem, 1)), 4)
	binary.LittleEndian.PutUint32(mem.bytesAt(lenAddr, 4), 4)
	mustSys(t, task, abi.SYS_GETSOCKOPT, s, abi.SOL_SOCKET, abi.SO_PASSCRED, uint64(val), uint64(lenAddr))
	if v := mem.u32(val); v != 1 {
		t.Errorf("SO_PASSCRED after setting it = %d", v)
	}
	wantErrno(t, abi.EFAULT, task, abi.SYS_SETSOCKOPT, s, abi.SOL_SOCKET, abi.SO_PASSCRED, uint64(fileBadAddr), 4)
	wantErrno(t, abi.EFAULT, task, abi.SYS_GETSOCKOPT, s, abi.SOL_SOCKET, abi.SO_TYPE, uint64(fileBadAddr), uint64(lenAddr))
}

func TestAttachFilterReadsTheGuestProgram(t *testing.T) {
	// A one-instruction classic BPF program: "ret #k".
	prog := func(mem *fileTestMem, k uint32) abi.Addr {
		insn := mem.alloc(abi.SizeofSockFilter)
		b := mem.bytesAt(insn, abi.SizeofSockFilter)
		binary.LittleEndian.PutUint16(b, unix.BPF_RET|unix.BPF_K)
		b[2], b[3] = 0, 0
		binary.LittleEndian.PutUint32(b[4:], k)
		fprog := mem.alloc(abi.SizeofSockFprog)
		f := mem.bytesAt(fprog, abi.SizeofSockFprog)
		clear(f)
		binary.LittleEndian.PutUint16(f, 1)
		binary.LittleEndian.PutUint64(f[8:], uint64(insn))
		return fprog
	}
	tests := []struct {
		name    string
		k       uint32
		deliver bool
	}{
		{"accept everything", 0xffff, true},
		{"drop everything", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newFileTestTask(t)
			a, b := guestSocketpair(t, task, mem, abi.SOCK_DGRAM)
			mustSys(t, task, abi.SYS_SETSOCKOPT, b, abi.SOL_SOCKET, abi.SO_ATTACH_FILTER, uint64(prog(mem, tc.k)), abi.SizeofSockFprog)
			mustSys(t, task, abi.SYS_SENDTO, a, uint64(mem.str("pkt")), 3, 0, 0, 0)
			_, err := fileSys(task, abi.SYS_RECVFROM, b, uint64(mem.alloc(8)), 8, abi.MSG_DONTWAIT, 0, 0)
			if delivered := err == nil; delivered != tc.deliver {
				t.Errorf("datagram delivered %v (%v), want %v", delivered, err, tc.deliver)
			}
		})
	}
	task, mem := newFileTestTask(t)
	_, b := guestSocketpair(t, task, mem, abi.SOCK_DGRAM)
	wantErrno(t, abi.EINVAL, task, abi.SYS_SETSOCKOPT, b, abi.SOL_SOCKET, abi.SO_ATTACH_FILTER, uint64(prog(mem, 0)), 8)
	bad := prog(mem, 0)
	binary.LittleEndian.PutUint64(mem.bytesAt(bad+8, 8), uint64(fileBadAddr))
	wantErrno(t, abi.EFAULT, task, abi.SYS_SETSOCKOPT, b, abi.SOL_SOCKET, abi.SO_ATTACH_FILTER, uint64(bad), abi.SizeofSockFprog)
}

func TestDropPrefix(t *testing.T) {
	iovs := [][]byte{[]byte("ab"), []byte("cde"), []byte("f")}
	tests := []struct {
		n    int
		want string
	}{
		{0, "ab|cde|f"}, {1, "b|cde|f"}, {2, "cde|f"}, {4, "e|f"}, {5, "f"}, {6, ""},
	}
	for _, tc := range tests {
		var parts []string
		for _, b := range dropPrefix(iovs, tc.n) {
			parts = append(parts, string(b))
		}
		if got := strings.Join(parts, "|"); got != tc.want {
			t.Errorf("dropPrefix(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if string(iovs[0]) != "ab" {
		t.Errorf("dropPrefix changed its argument: %q", iovs[0])
	}
}

// A blocking stream send larger than the socket buffers goes out in parts
// as the peer drains it; every byte arrives once and in order.
func TestBlockingStreamSendLargerThanBuffers(t *testing.T) {
	const size = 3 << 20
	tests := []struct {
		name string
		send func(task *Task, mem *fileTestMem, fd uint64, data abi.Addr) uint64
	}{
		{"sendto", func(task *Task, mem *fileTestMem, fd uint64, data abi.Addr) uint64 {
			return mustSys(t, task, abi.SYS_SENDTO, fd, uint64(data), size, 0, 0, 0)
		}},
		{"sendmsg with three iovecs", func(task *Task, mem *fileTestMem, fd uint64, data abi.Addr) uint64 {
			iov := mem.alloc(3 * abi.SizeofIovec)
			for i, r := range [][2]uint64{{0, 1000}, {1000, size/2 - 1000}, {size / 2, size / 2}} {
				(&abi.Iovec{Base: data + abi.Addr(r[0]), Len: r[1]}).MarshalBytes(mem.bytesAt(iov+abi.Addr(i*abi.SizeofIovec), abi.SizeofIovec))
			}
			msg := mem.alloc(abi.SizeofMsghdr)
			(&abi.Msghdr{Iov: iov, Iovlen: 3}).MarshalBytes(mem.bytesAt(msg, abi.SizeofMsghdr))
			return mustSys(t, task, abi.SYS_SENDMSG, fd, uint64(msg), 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, _ := newFileTestTask(t)
			mem := newFileTestMem(size + 1<<16)
			task.Proc.Mem = mem
			a, b := guestSocketpair(t, task, mem, abi.SOCK_STREAM)
			data := mem.alloc(size)
			for i := range size {
				mem.buf[int(data-mem.base)+i] = byte(i % 251)
			}
			hb, err := task.Proc.FDs.Get(int32(b))
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte)
			go func() {
				var all []byte
				buf := make([]byte, 1<<16)
				for len(all) < size {
					n, err := unix.Read(hb, buf)
					if err != nil || n == 0 {
						break
					}
					all = append(all, buf[:n]...)
				}
				got <- all
			}()
			if n := tc.send(task, mem, a, data); n != size {
				t.Errorf("sent %d, want %d", n, size)
			}
			all := <-got
			if !bytes.Equal(all, mem.bytesAt(data, size)) {
				t.Errorf("peer received %d bytes that differ from the %d sent", len(all), size)
			}
		})
	}
}

// The guest's pid (1 in the fake tree) is not the guestproc's host pid:
// credentials carry the guest's on the guest side and the host's on the
// host side, whose kernel checks them against the sender (unless it is
// privileged, so each direction is checked against the host's own view).
func TestCredentialsCarryGuestPids(t *testing.T) {
	task, mem := newFileTestTask(t)
	guestPid := task.Proc.Kernel.Host.Pid()
	hostPid := int32(unix.Getpid())
	if guestPid == hostPid {
		t.Fatalf("fake guest pid %d equals the host pid", guestPid)
	}
	a, b := guestSocketpair(t, task, mem, abi.SOCK_DGRAM)
	ha, _ := task.Proc.FDs.Get(int32(a))
	hb, _ := task.Proc.FDs.Get(int32(b))
	for _, fd := range []int{ha, hb} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
			t.Fatal(err)
		}
	}

	// Guest to host: the guest's own pid arrives as the host pid.
	const space = abi.SizeofCmsghdr + 16 // CMSG_SPACE(sizeof(struct ucred))
	smsg, sctl := msghdr(mem, mem.str("c"), 1, space)
	(&abi.Cmsghdr{Len: abi.SizeofCmsghdr + abi.SizeofUcred, Level: abi.SOL_SOCKET, Type: abi.SCM_CREDENTIALS}).
		MarshalBytes(mem.bytesAt(sctl, abi.SizeofCmsghdr))
	cred := mem.bytesAt(sctl+abi.SizeofCmsghdr, abi.SizeofUcred)
	binary.LittleEndian.PutUint32(cred[0:], uint32(guestPid))
	binary.LittleEndian.PutUint32(cred[4:], uint32(unix.Getuid()))
	binary.LittleEndian.PutUint32(cred[8:], uint32(unix.Getgid()))
	mustSys(t, task, abi.SYS_SENDMSG, a, uint64(smsg), 0)
	oob := make([]byte, 64)
	_, oobn, _, _, err := unix.Recvmsg(hb, make([]byte, 4), oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("host received control messages %v, %v", msgs, err)
	}
	uc, err := unix.ParseUnixCredentials(&msgs[0])
	if err != nil || uc.Pid != hostPid {
		t.Errorf("host received credentials %+v (%v), want pid %d", uc, err, hostPid)
	}

	// Host to guest: the host pid arrives as the guest's.
	creds := unix.UnixCredentials(&unix.Ucred{Pid: hostPid, Uid: uint32(unix.Getuid()), Gid: uint32(unix.Getgid())})
	if err := unix.Sendmsg(ha, []byte("h"), creds, nil, 0); err != nil {
		t.Fatal(err)
	}
	rmsg, rctl := msghdr(mem, mem.alloc(4), 4, space)
	mustSys(t, task, abi.SYS_RECVMSG, b, uint64(rmsg), 0)
	var h abi.Cmsghdr
	h.UnmarshalBytes(mem.bytesAt(rctl, abi.SizeofCmsghdr))
	if h.Type != abi.SCM_CREDENTIALS {
		t.Fatalf("received control message type %d, want SCM_CREDENTIALS", h.Type)
	}
	if pid := int32(mem.u32(rctl + abi.SizeofCmsghdr)); pid != guestPid {
		t.Errorf("guest received pid %d, want its own %d", pid, guestPid)
	}

	val := mem.alloc(abi.SizeofUcred)
	mustSys(t, task, abi.SYS_GETSOCKOPT, a, abi.SOL_SOCKET, abi.SO_PEERCRED, uint64(val), uint64(u32At(mem, abi.SizeofUcred)))
	if pid := int32(mem.u32(val)); pid != guestPid {
		t.Errorf("SO_PEERCRED pid %d, want the guest's %d", pid, guestPid)
	}
}
