package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Socket ioctls: the read-only interface queries (SIOCGIF*) that libc's
// if_nametoindex, if_indextoname and getifaddrs fallbacks, ifconfig and
// friends make, and the per-socket queries. Each argument is copied with
// its exact size; SIOCGIFCONF's buffer pointer is replaced by a host
// buffer. Of the requests that change an interface, SIOCSIFFLAGS and
// SIOCSIFMTU pass through (ip link set ... up/down/mtu): the host kernel
// asks for CAP_NET_ADMIN in the socket's network namespace, as it would
// of a native run, so a guest changes only what its user could.
//
// sys_ioctl.go calls socketIoctl for a request it does not know before
// answering ENOTTY.

// ifreqRequests are the requests whose argument is one struct ifreq, read
// and written back.
var ifreqRequests = map[uint32]bool{
	abi.SIOCGIFNAME: true, abi.SIOCGIFFLAGS: true, abi.SIOCGIFADDR: true, abi.SIOCGIFDSTADDR: true,
	abi.SIOCGIFBRDADDR: true, abi.SIOCGIFNETMASK: true, abi.SIOCGIFMETRIC: true, abi.SIOCGIFMTU: true,
	abi.SIOCGIFHWADDR: true, abi.SIOCGIFINDEX: true, abi.SIOCGIFTXQLEN: true, abi.SIOCGIFMAP: true,
	siocSIFFLAGS: true, siocSIFMTU: true,
}

// The interface-changing requests that pass through (linux/sockios.h).
const (
	siocSIFFLAGS = 0x8914
	siocSIFMTU   = 0x8922
)

// socketIoctl serves req on f if f is a socket and req a socket request
// elfuse knows (handled); otherwise the caller answers.
func (t *Task) socketIoctl(f *HostFile, req uint32, arg abi.Addr) (v uint64, handled bool, err error) {
	if f.waitKind() != kindSocket {
		return 0, false, nil
	}
	var size int
	switch {
	case ifreqRequests[req]:
		size = abi.SizeofIfreq
	case req == abi.SIOCGIFCONF:
		return 0, true, t.ifconf(f.FD(), arg)
	case req == abi.SIOCATMARK, req == abi.SIOCOUTQNSD:
		size = 4
	case req == abi.SIOCGSTAMP, req == abi.SIOCGSTAMPNS:
		size = 16 // struct timeval or struct timespec
	default:
		return 0, false, nil
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(arg, b); err != nil {
		return 0, true, err
	}
	if err := hostIoctlBuf(f.FD(), req, b); err != nil {
		return 0, true, err
	}
	_, err = t.CopyOut(arg, b)
	return 0, true, err
}

// ifconf serves SIOCGIFCONF: struct ifconf names a guest buffer of ifc_len
// bytes (NULL: only report the length needed).
func (t *Task) ifconf(fd int, arg abi.Addr) error {
	var c [abi.SizeofIfconf]byte
	if _, err := t.CopyIn(arg, c[:]); err != nil {
		return err
	}
	ulen := int32(binary.LittleEndian.Uint32(c[0:]))
	ubuf := abi.Addr(binary.LittleEndian.Uint64(c[8:]))
	if ubuf != 0 && ulen <= 0 {
		// Linux fills a buffer with no room with nothing.
		binary.LittleEndian.PutUint32(c[0:], 0)
		_, err := t.CopyOut(arg, c[:4])
		return err
	}
	var buf []byte
	if ubuf != 0 {
		buf = make([]byte, min(ulen, 1<<20))
	}
	n, err := hostGetIfconf(fd, buf)
	if err != nil {
		return err
	}
	if buf != nil && n > 0 {
		if _, err := t.CopyOut(ubuf, buf[:min(n, len(buf))]); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(c[0:], uint32(n))
	_, err = t.CopyOut(arg, c[:4])
	return err
}
