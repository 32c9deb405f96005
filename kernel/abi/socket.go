package abi

// Socket constants, as x86-64 Linux defines them (include/linux/socket.h,
// include/uapi/linux/in.h, include/uapi/asm-generic/socket.h).

// Address families.
const (
	AF_UNSPEC  = 0
	AF_UNIX    = 1
	AF_INET    = 2
	AF_INET6   = 10
	AF_NETLINK = 16
	AF_PACKET  = 17
)

// Socket types and the flags socket(2), socketpair(2) and accept4(2) take
// in the type argument.
const (
	SOCK_STREAM    = 1
	SOCK_DGRAM     = 2
	SOCK_RAW       = 3
	SOCK_RDM       = 4
	SOCK_SEQPACKET = 5
	SOCK_PACKET    = 10
	SOCK_TYPE_MASK = 0xf
	SOCK_NONBLOCK  = O_NONBLOCK
	SOCK_CLOEXEC   = O_CLOEXEC
)

// Option levels.
const (
	SOL_SOCKET     = 1
	IPPROTO_IP     = 0
	IPPROTO_TCP    = 6
	IPPROTO_UDP    = 17
	IPPROTO_IPV6   = 41
	IPPROTO_ICMPV6 = 58
	IPPROTO_RAW    = 255
	SOL_NETLINK    = 270
)

// SOL_SOCKET options that need more than a byte copy.
const (
	SO_TYPE                  = 3
	SO_ERROR                 = 4
	SO_RCVBUF                = 8
	SO_PASSCRED              = 16
	SO_PEERCRED              = 17
	SO_RCVTIMEO              = 20
	SO_SNDTIMEO              = 21
	SO_ATTACH_FILTER         = 26
	SO_DOMAIN                = 39
	SO_ATTACH_BPF            = 50
	SO_ATTACH_REUSEPORT_CBPF = 51
	SO_ATTACH_REUSEPORT_EBPF = 52
	SO_PEERPIDFD             = 77
)

// TCP_ZEROCOPY_RECEIVE maps socket memory into the caller: not supported.
const TCP_ZEROCOPY_RECEIVE = 35

// Control message types at SOL_SOCKET.
const (
	SCM_RIGHTS      = 1
	SCM_CREDENTIALS = 2
	SCM_SECURITY    = 3
	SCM_PIDFD       = 4
	// SCM_MAX_FD is the most descriptors one SCM_RIGHTS message carries.
	SCM_MAX_FD = 253
)

// send and recv flags.
const (
	MSG_OOB          = 0x1
	MSG_PEEK         = 0x2
	MSG_DONTROUTE    = 0x4
	MSG_CTRUNC       = 0x8
	MSG_TRUNC        = 0x20
	MSG_DONTWAIT     = 0x40
	MSG_EOR          = 0x80
	MSG_WAITALL      = 0x100
	MSG_ERRQUEUE     = 0x2000
	MSG_NOSIGNAL     = 0x4000
	MSG_MORE         = 0x8000
	MSG_WAITFORONE   = 0x10000
	MSG_CMSG_CLOEXEC = 0x40000000
)

// shutdown(2) how.
const (
	SHUT_RD   = 0
	SHUT_WR   = 1
	SHUT_RDWR = 2
)

// Sizes.
const (
	// SizeofSockaddrStorage is sizeof(struct sockaddr_storage), the most a
	// socket call copies in as an address.
	SizeofSockaddrStorage = 128
	// SizeofSockaddrUn is sizeof(struct sockaddr_un).
	SizeofSockaddrUn = 110
	// UNIX_PATH_MAX is the size of sun_path.
	UNIX_PATH_MAX = 108
	// SizeofSaFamily is sizeof(sa_family_t), where every address begins.
	SizeofSaFamily = 2
	// SizeofSockFprog is sizeof(struct sock_fprog); SizeofSockFilter is one
	// classic BPF instruction.
	SizeofSockFprog  = 16
	SizeofSockFilter = 8
	// UIO_MAXIOV bounds sendmmsg and recvmmsg vectors as well.
	UIO_MAXIOV = 1024
)

// Socket ioctl requests (include/uapi/linux/sockios.h).
const (
	SIOCATMARK     = 0x8905
	SIOCGSTAMP     = 0x8906
	SIOCGSTAMPNS   = 0x8907
	SIOCGIFNAME    = 0x8910
	SIOCGIFCONF    = 0x8912
	SIOCGIFFLAGS   = 0x8913
	SIOCGIFADDR    = 0x8915
	SIOCGIFDSTADDR = 0x8917
	SIOCGIFBRDADDR = 0x8919
	SIOCGIFNETMASK = 0x891b
	SIOCGIFMETRIC  = 0x891d
	SIOCGIFMTU     = 0x8921
	SIOCGIFHWADDR  = 0x8927
	SIOCGIFINDEX   = 0x8933
	SIOCOUTQNSD    = 0x894b
	SIOCGIFTXQLEN  = 0x8942
	SIOCGIFMAP     = 0x8970
	// SizeofIfreq is sizeof(struct ifreq): IFNAMSIZ bytes of name, then a
	// 24-byte union without pointers for the requests above.
	SizeofIfreq = 40
	IFNAMSIZ    = 16
	// SizeofIfconf is sizeof(struct ifconf): int ifc_len, padding, and a
	// pointer to the buffer.
	SizeofIfconf = 16
)
