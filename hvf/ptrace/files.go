package ptrace

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// How a caller's descriptor reaches the stub.
//
// First choice: an openat of /proc/<tracer pid>/fd/<fd> in the stub, run in
// the same batch as the mmap that needs it (apply.go), which reopens the
// same file with the same access mode. It fails when the file's
// permissions no longer allow that open, when the tracer is not dumpable, or
// without /proc. Then the descriptor is passed over a SOCK_SEQPACKET
// socketpair whose other end is the stub's descriptor 0:
//
//	tracer                              stub (injected syscalls)
//	sendmsg(sock, 1 byte, SCM_RIGHTS fd)
//	                                    recvmsg(0, scratch msghdr,
//	                                            MSG_CMSG_CLOEXEC|MSG_DONTWAIT)
//	read the cmsg back from the scratch page
//
// One message is in flight at a time, and recvmsg never blocks. If the
// receive fails, a message may be left queued, so the socket is closed and
// the fallback disabled rather than risk receiving a stale descriptor later.

// Scratch layout: what injected calls read is in the scratch page (the
// in-area), what recvmsg writes in the out-area past the batch results.
const (
	scratchPath   = scratchAddr     // NUL-terminated path for openat
	scratchMsghdr = outAddr + 0x400 // struct msghdr (56 bytes)
	scratchIov    = outAddr + 0x440 // struct iovec (16 bytes)
	scratchCmsg   = outAddr + 0x460 // control buffer
	scratchByte   = outAddr + 0x480 // the 1-byte payload
	cmsgLen       = 24              // CMSG_SPACE(sizeof(int))
	msghdrSize    = 56
)

// atFDCWD is AT_FDCWD as a syscall argument register.
var atFDCWD = ^uint64(0) - (-unix.AT_FDCWD - 1)

// fileKey identifies an open file for the stub-side descriptor cache.
type fileKey struct {
	dev, ino uint64
	accMode  int
}

// maxStubFiles bounds the descriptors the stub keeps open. A cached stub
// descriptor keeps its file alive after the caller closes its own, so the
// bound also bounds memory kept by files the caller has dropped.
const maxStubFiles = 16

// fileCache maps host files to descriptors opened in the stub, least
// recently used first in order.
//
// writers are the cached files open for writing that have a name (not a
// memfd: the guest's RAM and shared anonymous memory stay cached). Such a
// descriptor would keep the file open for writing after the guest's last
// munmap, and an execve of the file would fail with ETXTBSY where Linux
// runs it: Apply closes them in the stub once their mappings are made (a
// mapping holds its file open by itself, as on Linux).
type fileCache struct {
	fds     map[fileKey]int
	order   []fileKey
	writers map[fileKey]bool
}

func (c *fileCache) init() {
	c.fds = make(map[fileKey]int)
	c.writers = make(map[fileKey]bool)
}

// forget drops k from the cache (its stub descriptor is closed or gone).
func (c *fileCache) forget(k fileKey) {
	delete(c.fds, k)
	for i, o := range c.order {
		if o == k {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

func (c *fileCache) touch(k fileKey) {
	for i, o := range c.order {
		if o == k {
			copy(c.order[i:], c.order[i+1:])
			c.order[len(c.order)-1] = k
			return
		}
	}
}

// passToStub sends fd over the socketpair and has the stub receive it.
func (m *machine) passToStub(fd int) (int, error) {
	if m.leader != nil {
		// The socket is the stub's descriptor 0, shared by its
		// threads; the tracer's end is the leader's.
		return m.leader.passToStubFrom(m, fd)
	}
	return m.passToStubFrom(m, fd)
}

// passToStubFrom is passToStub with the receive injected into the stub
// thread of view v (m is the leader, which owns the socket).
func (m *machine) passToStubFrom(v *machine, fd int) (int, error) {
	if m.sock < 0 {
		return -1, fmt.Errorf("pass fd %d to stub: no socket", fd)
	}
	if err := unix.Sendmsg(m.sock, []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		return -1, fmt.Errorf("pass fd %d to stub: sendmsg: %w", fd, err)
	}
	sfd, err := v.receiveInStub()
	if err != nil {
		unix.Close(m.sock)
		m.sock = -1
		return -1, fmt.Errorf("pass fd %d to stub: %w", fd, err)
	}
	return sfd, nil
}

func (m *machine) receiveInStub() (int, error) {
	var buf [scratchByte + 1 - scratchMsghdr]byte
	le := binary.LittleEndian
	h := buf[:]
	le.PutUint64(h[16:], scratchIov)  // msg_iov
	le.PutUint64(h[24:], 1)           // msg_iovlen
	le.PutUint64(h[32:], scratchCmsg) // msg_control
	le.PutUint64(h[40:], cmsgLen)     // msg_controllen
	iov := buf[scratchIov-scratchMsghdr:]
	le.PutUint64(iov[0:], scratchByte)
	le.PutUint64(iov[8:], 1)
	if err := m.writeStub(scratchMsghdr, buf[:]); err != nil {
		return -1, err
	}
	n, err := m.inject(unix.SYS_RECVMSG, 0, scratchMsghdr, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
	if err != nil {
		return -1, fmt.Errorf("stub recvmsg: %w", err)
	}
	if n != 1 {
		return -1, fmt.Errorf("stub recvmsg returned %d bytes", n)
	}
	if err := m.readStub(scratchMsghdr, buf[:]); err != nil {
		return -1, err
	}
	clen := le.Uint64(h[40:])
	if flags := le.Uint32(h[48:]); flags&unix.MSG_CTRUNC != 0 || clen > cmsgLen {
		return -1, fmt.Errorf("stub recvmsg: control data truncated (flags %#x)", flags)
	}
	cm := buf[scratchCmsg-scratchMsghdr:][:clen]
	msgs, err := unix.ParseSocketControlMessage(cm)
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("stub recvmsg: bad control data: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("stub recvmsg: want one descriptor, got %v (%v)", fds, err)
	}
	return fds[0], nil
}
