package abi

import "encoding/binary"

var sockOrder = binary.LittleEndian

// Msghdr is struct user_msghdr as x86-64 sendmsg(2) and recvmsg(2) take it.
type Msghdr struct {
	Name       Addr
	Namelen    uint32
	_          uint32
	Iov        Addr
	Iovlen     uint64
	Control    Addr
	Controllen uint64
	Flags      int32
	_          int32
}

// SizeofMsghdr is sizeof(struct user_msghdr).
const SizeofMsghdr = 56

// Offsets of the fields recvmsg writes back.
const (
	MsghdrNamelenOffset    = 8
	MsghdrControllenOffset = 40
	MsghdrFlagsOffset      = 48
)

// SizeBytes returns the Linux size of the structure.
func (*Msghdr) SizeBytes() int { return SizeofMsghdr }

// MarshalBytes encodes m into dst.
func (m *Msghdr) MarshalBytes(dst []byte) {
	clear(dst[:SizeofMsghdr])
	sockOrder.PutUint64(dst[0:], uint64(m.Name))
	sockOrder.PutUint32(dst[8:], m.Namelen)
	sockOrder.PutUint64(dst[16:], uint64(m.Iov))
	sockOrder.PutUint64(dst[24:], m.Iovlen)
	sockOrder.PutUint64(dst[32:], uint64(m.Control))
	sockOrder.PutUint64(dst[40:], m.Controllen)
	sockOrder.PutUint32(dst[48:], uint32(m.Flags))
}

// UnmarshalBytes decodes src into m.
func (m *Msghdr) UnmarshalBytes(src []byte) {
	m.Name = Addr(sockOrder.Uint64(src[0:]))
	m.Namelen = sockOrder.Uint32(src[8:])
	m.Iov = Addr(sockOrder.Uint64(src[16:]))
	m.Iovlen = sockOrder.Uint64(src[24:])
	m.Control = Addr(sockOrder.Uint64(src[32:]))
	m.Controllen = sockOrder.Uint64(src[40:])
	m.Flags = int32(sockOrder.Uint32(src[48:]))
}

// SizeofMmsghdr is sizeof(struct mmsghdr): a msghdr, then msg_len (a
// uint32 at MmsghdrLenOffset) and padding.
const (
	SizeofMmsghdr    = 64
	MmsghdrLenOffset = 56
)

// Cmsghdr is struct cmsghdr, the header of one control message.
type Cmsghdr struct {
	Len   uint64
	Level int32
	Type  int32
}

// SizeofCmsghdr is sizeof(struct cmsghdr); the data follows it.
const SizeofCmsghdr = 16

// CmsgAlign rounds a control-message length up as CMSG_ALIGN does.
func CmsgAlign(n uint64) uint64 { return (n + 7) &^ 7 }

// MarshalBytes encodes h into dst.
func (h *Cmsghdr) MarshalBytes(dst []byte) {
	sockOrder.PutUint64(dst[0:], h.Len)
	sockOrder.PutUint32(dst[8:], uint32(h.Level))
	sockOrder.PutUint32(dst[12:], uint32(h.Type))
}

// UnmarshalBytes decodes src into h.
func (h *Cmsghdr) UnmarshalBytes(src []byte) {
	h.Len = sockOrder.Uint64(src[0:])
	h.Level = int32(sockOrder.Uint32(src[8:]))
	h.Type = int32(sockOrder.Uint32(src[12:]))
}

// Ucred is struct ucred (SCM_CREDENTIALS, SO_PEERCRED).
type Ucred struct {
	Pid int32
	UID uint32
	GID uint32
}

// SizeofUcred is sizeof(struct ucred).
const SizeofUcred = 12
