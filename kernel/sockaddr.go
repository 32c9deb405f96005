package kernel

import (
	"bytes"
	"encoding/binary"
	"strconv"

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
// TODO(sysroot): addresses coming back (getsockname, getpeername, accept,
// recvfrom, recvmsg) carry host paths; map them back to guest paths once
// resolvePath can root them elsewhere (guestSockaddr is the one place).

// copyInSockaddr reads the guest address [addr, addr+addrlen) for bind,
// connect, sendto or sendmsg and returns it in host form, with a release
// function that the caller must call after the host call (it keeps a
// resolved directory open). An empty address is returned as nil.
func (t *Task) copyInSockaddr(addr abi.Addr, addrlen uint32) ([]byte, func(), error) {
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
	return t.hostSockaddr(b)
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
func (t *Task) hostSockaddr(b []byte) ([]byte, func(), error) {
	nop := func() {}
	path, ok := unixPath(b)
	if !ok {
		return b, nop, nil
	}
	hp, err := t.resolvePathString(abi.AT_FDCWD, path, 0)
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
	return out, hp.release, nil
}

// guestSockaddr turns an address the host returned into the guest's (see
// the TODO above: the identity for now).
func guestSockaddr(b []byte) []byte { return b }

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
	b = guestSockaddr(b[:min(klen, len(b))])
	if n := min(int(ulen), len(b)); n > 0 {
		if _, err := t.CopyOut(addr, b[:n]); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(klen))
	_, err := t.CopyOut(lenAddr, lb[:])
	return err
}
