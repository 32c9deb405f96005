package kernel

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Socket addresses.
//
// Addresses cross between guest and host as raw bytes, as Linux's
// move_addr_to_kernel and move_addr_to_user copy them: the host kernel does
// all the checking of families and lengths, so its errors are the guest's.
// The one exception is an AF_UNIX path name, which names a file and so
// goes through the files code's path resolver (resolvePathString), so that
// a --sysroot later confines it like any other path. Abstract names (a
// leading NUL) and autobind (just the family) are not paths and pass
// unchanged.
//
// Under a --sysroot the host socket gets a name the guest never wrote: a
// bind is made through the resolved parent directory, as
// /proc/self/fd/N/NAME, so that the socket lands inside the root however
// the path's components change meanwhile. Names coming back (getsockname,
// getpeername, accept, recvfrom, recvmsg) are mapped back: a name this
// process bound reads as the guest wrote it, a host path inside the root
// or a bind as its guest path, and any other host name (another process's
// /proc/self/fd/N/NAME, a path outside the root) as its last component, as
// if it had been bound relative to a directory: the guest never sees a
// host path.

// copyInSockaddr reads the guest address [addr, addr+addrlen) for bind,
// connect, sendto or sendmsg and returns it in host form, with a release
// function that the caller must call after the host call (it keeps a
// resolved directory open). An empty address is returned as nil.
//
// For bind (create), an AF_UNIX path names a file to be made, so its
// parent is resolved and the final component must not be followed.
func (t *Task) copyInSockaddr(addr abi.Addr, addrlen uint32, create bool) ([]byte, func(), error) {
	nop := func() {}
	if int32(addrlen) < 0 || addrlen > abi.SizeofSockaddrStorage {
		return nil, nop, abi.EINVAL
	}
	if addrlen == 0 {
		return nil, nop, nil
	}
	b := make([]byte, addrlen)
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, nop, err
	}
	return t.hostSockaddr(b, create)
}

// unixPath returns the path name of an AF_UNIX address, or ok=false for
// an abstract name, an autobind request, another family or an address the
// host will reject anyway (longer than struct sockaddr_un). Like Linux,
// it accepts a sun_path without a terminating NUL.
func unixPath(b []byte) (path string, ok bool) {
	if len(b) <= abi.SizeofSaFamily || len(b) > abi.SizeofSockaddrUn ||
		binary.LittleEndian.Uint16(b) != abi.AF_UNIX || b[abi.SizeofSaFamily] == 0 {
		return "", false
	}
	p := b[abi.SizeofSaFamily:]
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	return string(p), true
}

// hostSockaddr turns a guest address into the host's: AF_UNIX path names
// are resolved, everything else is returned as is.
func (t *Task) hostSockaddr(b []byte, create bool) ([]byte, func(), error) {
	nop := func() {}
	path, ok := unixPath(b)
	if !ok {
		return b, nop, nil
	}
	flags := pathFlags(0)
	if create {
		flags = pathNoFollow | pathWrite
	}
	hp, err := t.resolvePathString(abi.AT_FDCWD, path, flags)
	if err != nil {
		return nil, nop, err
	}
	host := hp.path
	if hp.dirfd != unix.AT_FDCWD {
		// A path relative to a directory descriptor: name it through
		// /proc/self/fd, which the host resolves to that directory.
		host = "/proc/self/fd/" + strconv.Itoa(hp.dirfd) + "/" + hp.path
	}
	if host == path {
		hp.release()
		return b, nop, nil
	}
	if len(host) >= abi.UNIX_PATH_MAX {
		hp.release()
		return nil, nop, abi.ENAMETOOLONG
	}
	out := make([]byte, abi.SizeofSaFamily+len(host)+1)
	binary.LittleEndian.PutUint16(out, abi.AF_UNIX)
	copy(out[abi.SizeofSaFamily:], host)
	if create {
		t.Proc.unixNames.bound(host, path)
	}
	return out, hp.release, nil
}

// unixNames remembers, per process, the guest name of each AF_UNIX
// socket bound under another host name. A later bind through a reused
// descriptor number replaces the entry: the newest socket of that name
// wins, which is the one a peer is most likely talking to.
type unixNames struct {
	mu sync.Mutex
	m  map[string]string // host name -> guest name
}

func (u *unixNames) bound(host, guest string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]string{}
	}
	u.m[host] = guest
}

func (u *unixNames) lookup(host string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	g, ok := u.m[host]
	return g, ok
}

// guestSockaddr turns an address the host returned into the guest's: an
// AF_UNIX path name is mapped back (see the comment at the top); the
// rest passes unchanged. It returns the address and its full length.
func (t *Task) guestSockaddr(b []byte, klen int) ([]byte, int) {
	r := t.Proc.Kernel.Root
	host, ok := unixPath(b)
	if r == nil || !ok || klen > len(b) {
		return b, klen
	}
	guest, ok := t.Proc.unixNames.lookup(host)
	if !ok {
		guest, ok = r.GuestPath(host)
	}
	if !ok {
		guest = host[strings.LastIndexByte(host, '/')+1:]
	}
	if guest == host {
		return b, klen
	}
	out := make([]byte, abi.SizeofSaFamily+len(guest)+1)
	binary.LittleEndian.PutUint16(out, abi.AF_UNIX)
	copy(out[abi.SizeofSaFamily:], guest)
	return out, len(out)
}

// copyOutSockaddr stores an address the host returned (b, whose full
// length is klen) for the guest as Linux's move_addr_to_user does: the
// guest's buffer length is read from lenAddr (EINVAL if negative), at most
// that many bytes are written to addr, and klen is stored at lenAddr so
// the guest can tell the address was truncated.
func (t *Task) copyOutSockaddr(addr, lenAddr abi.Addr, b []byte, klen int) error {
	var lb [4]byte
	if _, err := t.CopyIn(lenAddr, lb[:]); err != nil {
		return err
	}
	ulen := int32(binary.LittleEndian.Uint32(lb[:]))
	if ulen < 0 {
		return abi.EINVAL
	}
	b, klen = t.guestSockaddr(b[:min(klen, len(b))], klen)
	if n := min(int(ulen), len(b)); n > 0 {
		if _, err := t.CopyOut(addr, b[:n]); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(klen))
	_, err := t.CopyOut(lenAddr, lb[:])
	return err
}
