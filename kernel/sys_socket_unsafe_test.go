package kernel

import (
	"testing"
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// TestSocketABIMatchesLinux checks kernel/abi's socket numbers and layouts
// against golang.org/x/sys/unix.
func TestSocketABIMatchesLinux(t *testing.T) {
	pairs := []struct {
		name      string
		ours, ref int64
	}{
		{"AF_UNIX", abi.AF_UNIX, unix.AF_UNIX}, {"AF_INET", abi.AF_INET, unix.AF_INET},
		{"AF_INET6", abi.AF_INET6, unix.AF_INET6}, {"AF_NETLINK", abi.AF_NETLINK, unix.AF_NETLINK},
		{"AF_PACKET", abi.AF_PACKET, unix.AF_PACKET},
		{"SOCK_STREAM", abi.SOCK_STREAM, unix.SOCK_STREAM}, {"SOCK_DGRAM", abi.SOCK_DGRAM, unix.SOCK_DGRAM},
		{"SOCK_RAW", abi.SOCK_RAW, unix.SOCK_RAW}, {"SOCK_SEQPACKET", abi.SOCK_SEQPACKET, unix.SOCK_SEQPACKET},
		{"SOCK_NONBLOCK", abi.SOCK_NONBLOCK, unix.SOCK_NONBLOCK}, {"SOCK_CLOEXEC", abi.SOCK_CLOEXEC, unix.SOCK_CLOEXEC},
		{"SOL_SOCKET", abi.SOL_SOCKET, unix.SOL_SOCKET}, {"IPPROTO_TCP", abi.IPPROTO_TCP, unix.IPPROTO_TCP},
		{"IPPROTO_UDP", abi.IPPROTO_UDP, unix.IPPROTO_UDP}, {"IPPROTO_IPV6", abi.IPPROTO_IPV6, unix.IPPROTO_IPV6},
		{"IPPROTO_ICMPV6", abi.IPPROTO_ICMPV6, unix.IPPROTO_ICMPV6}, {"SOL_NETLINK", abi.SOL_NETLINK, unix.SOL_NETLINK},
		{"SO_TYPE", abi.SO_TYPE, unix.SO_TYPE}, {"SO_ERROR", abi.SO_ERROR, unix.SO_ERROR},
		{"SO_RCVBUF", abi.SO_RCVBUF, unix.SO_RCVBUF}, {"SO_PASSCRED", abi.SO_PASSCRED, unix.SO_PASSCRED},
		{"SO_PEERCRED", abi.SO_PEERCRED, unix.SO_PEERCRED}, {"SO_RCVTIMEO", abi.SO_RCVTIMEO, unix.SO_RCVTIMEO},
		{"SO_SNDTIMEO", abi.SO_SNDTIMEO, unix.SO_SNDTIMEO}, {"SO_ATTACH_FILTER", abi.SO_ATTACH_FILTER, unix.SO_ATTACH_FILTER},
		{"SO_DOMAIN", abi.SO_DOMAIN, unix.SO_DOMAIN}, {"SO_ATTACH_BPF", abi.SO_ATTACH_BPF, unix.SO_ATTACH_BPF},
		{"SO_ATTACH_REUSEPORT_CBPF", abi.SO_ATTACH_REUSEPORT_CBPF, unix.SO_ATTACH_REUSEPORT_CBPF},
		{"SO_ATTACH_REUSEPORT_EBPF", abi.SO_ATTACH_REUSEPORT_EBPF, unix.SO_ATTACH_REUSEPORT_EBPF},
		{"SO_PEERPIDFD", abi.SO_PEERPIDFD, unix.SO_PEERPIDFD},
		{"TCP_ZEROCOPY_RECEIVE", abi.TCP_ZEROCOPY_RECEIVE, unix.TCP_ZEROCOPY_RECEIVE},
		{"SCM_RIGHTS", abi.SCM_RIGHTS, unix.SCM_RIGHTS}, {"SCM_CREDENTIALS", abi.SCM_CREDENTIALS, unix.SCM_CREDENTIALS},
		{"SCM_PIDFD", abi.SCM_PIDFD, unix.SCM_PIDFD},
		{"MSG_OOB", abi.MSG_OOB, unix.MSG_OOB}, {"MSG_PEEK", abi.MSG_PEEK, unix.MSG_PEEK},
		{"MSG_CTRUNC", abi.MSG_CTRUNC, unix.MSG_CTRUNC}, {"MSG_TRUNC", abi.MSG_TRUNC, unix.MSG_TRUNC},
		{"MSG_DONTWAIT", abi.MSG_DONTWAIT, unix.MSG_DONTWAIT}, {"MSG_WAITALL", abi.MSG_WAITALL, unix.MSG_WAITALL},
		{"MSG_ERRQUEUE", abi.MSG_ERRQUEUE, unix.MSG_ERRQUEUE}, {"MSG_NOSIGNAL", abi.MSG_NOSIGNAL, unix.MSG_NOSIGNAL},
		{"MSG_WAITFORONE", abi.MSG_WAITFORONE, unix.MSG_WAITFORONE}, {"MSG_CMSG_CLOEXEC", abi.MSG_CMSG_CLOEXEC, unix.MSG_CMSG_CLOEXEC},
		{"SHUT_RD", abi.SHUT_RD, unix.SHUT_RD}, {"SHUT_WR", abi.SHUT_WR, unix.SHUT_WR}, {"SHUT_RDWR", abi.SHUT_RDWR, unix.SHUT_RDWR},
		{"SIOCATMARK", abi.SIOCATMARK, unix.SIOCATMARK}, {"SIOCGSTAMP", abi.SIOCGSTAMP, unix.SIOCGSTAMP},
		{"SIOCGSTAMPNS", abi.SIOCGSTAMPNS, unix.SIOCGSTAMPNS}, {"SIOCGIFNAME", abi.SIOCGIFNAME, unix.SIOCGIFNAME},
		{"SIOCGIFCONF", abi.SIOCGIFCONF, unix.SIOCGIFCONF}, {"SIOCGIFFLAGS", abi.SIOCGIFFLAGS, unix.SIOCGIFFLAGS},
		{"SIOCGIFADDR", abi.SIOCGIFADDR, unix.SIOCGIFADDR}, {"SIOCGIFDSTADDR", abi.SIOCGIFDSTADDR, unix.SIOCGIFDSTADDR},
		{"SIOCGIFBRDADDR", abi.SIOCGIFBRDADDR, unix.SIOCGIFBRDADDR}, {"SIOCGIFNETMASK", abi.SIOCGIFNETMASK, unix.SIOCGIFNETMASK},
		{"SIOCGIFMETRIC", abi.SIOCGIFMETRIC, unix.SIOCGIFMETRIC}, {"SIOCGIFMTU", abi.SIOCGIFMTU, unix.SIOCGIFMTU},
		{"SIOCGIFHWADDR", abi.SIOCGIFHWADDR, unix.SIOCGIFHWADDR}, {"SIOCGIFINDEX", abi.SIOCGIFINDEX, unix.SIOCGIFINDEX},
		{"SIOCOUTQNSD", abi.SIOCOUTQNSD, unix.SIOCOUTQNSD}, {"SIOCGIFTXQLEN", abi.SIOCGIFTXQLEN, unix.SIOCGIFTXQLEN},
		{"SIOCGIFMAP", abi.SIOCGIFMAP, unix.SIOCGIFMAP}, {"IFNAMSIZ", abi.IFNAMSIZ, unix.IFNAMSIZ},
		{"sizeof(struct ifreq)", abi.SizeofIfreq, int64(unsafe.Sizeof(unix.Ifreq{}))},
		{"sizeof(struct ifconf)", abi.SizeofIfconf, int64(unsafe.Sizeof(hostIfconf{}))},
		{"sizeof(struct msghdr)", abi.SizeofMsghdr, unix.SizeofMsghdr},
		{"sizeof(struct cmsghdr)", abi.SizeofCmsghdr, unix.SizeofCmsghdr},
		{"sizeof(struct ucred)", abi.SizeofUcred, unix.SizeofUcred},
		{"sizeof(struct sockaddr_un)", abi.SizeofSockaddrUn, unix.SizeofSockaddrUnix},
		{"sizeof(struct sock_fprog)", abi.SizeofSockFprog, unix.SizeofSockFprog},
		{"sizeof(struct sock_filter)", abi.SizeofSockFilter, unix.SizeofSockFilter},
		{"offsetof(msghdr, msg_namelen)", abi.MsghdrNamelenOffset, int64(unsafe.Offsetof(unix.Msghdr{}.Namelen))},
		{"offsetof(msghdr, msg_controllen)", abi.MsghdrControllenOffset, int64(unsafe.Offsetof(unix.Msghdr{}.Controllen))},
		{"offsetof(msghdr, msg_flags)", abi.MsghdrFlagsOffset, int64(unsafe.Offsetof(unix.Msghdr{}.Flags))},
		{"offsetof(mmsghdr, msg_len)", abi.MmsghdrLenOffset, unix.SizeofMsghdr},
	}
	for _, p := range pairs {
		if p.ours != p.ref {
			t.Errorf("%s = %d, Linux has %d", p.name, p.ours, p.ref)
		}
	}
}

func TestMsghdrRoundTrips(t *testing.T) {
	in := abi.Msghdr{Name: 0x1000, Namelen: 16, Iov: 0x2000, Iovlen: 3, Control: 0x3000, Controllen: 48, Flags: -2}
	var b [abi.SizeofMsghdr]byte
	in.MarshalBytes(b[:])
	var out abi.Msghdr
	out.UnmarshalBytes(b[:])
	if out != in {
		t.Errorf("round trip: %+v, want %+v", out, in)
	}
}
