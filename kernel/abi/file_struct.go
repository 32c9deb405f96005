package abi

import "encoding/binary"

// File structures of the x86-64 Linux ABI with explicit padding. Each has
// SizeBytes, MarshalBytes and UnmarshalBytes; the field order and padding
// match the kernel's layout byte for byte (file_struct_test.go checks the
// encoding against encoding/binary and the known Linux sizes).

var fileOrder = binary.LittleEndian

// Iovec is struct iovec.
type Iovec struct {
	Base Addr
	Len  uint64
}

// SizeofIovec is sizeof(struct iovec).
const SizeofIovec = 16

// SizeBytes returns the Linux size of the structure.
func (*Iovec) SizeBytes() int { return SizeofIovec }

// MarshalBytes encodes v into dst.
func (v *Iovec) MarshalBytes(dst []byte) {
	fileOrder.PutUint64(dst[0:], uint64(v.Base))
	fileOrder.PutUint64(dst[8:], v.Len)
}

// UnmarshalBytes decodes src into v.
func (v *Iovec) UnmarshalBytes(src []byte) {
	v.Base = Addr(fileOrder.Uint64(src[0:]))
	v.Len = fileOrder.Uint64(src[8:])
}

// Stat is struct stat as x86-64 Linux returns it from stat(2) and
// newfstatat(2).
type Stat struct {
	Dev     uint64
	Ino     uint64
	Nlink   uint64
	Mode    uint32
	UID     uint32
	GID     uint32
	_       int32
	Rdev    uint64
	Size    int64
	Blksize int64
	Blocks  int64
	ATime   Timespec
	MTime   Timespec
	CTime   Timespec
	_       [3]int64
}

// SizeofStat is sizeof(struct stat).
const SizeofStat = 144

// SizeBytes returns the Linux size of the structure.
func (*Stat) SizeBytes() int { return SizeofStat }

// MarshalBytes encodes s into dst; padding is zeroed.
func (s *Stat) MarshalBytes(dst []byte) {
	dst = dst[:SizeofStat]
	clear(dst)
	fileOrder.PutUint64(dst[0:], s.Dev)
	fileOrder.PutUint64(dst[8:], s.Ino)
	fileOrder.PutUint64(dst[16:], s.Nlink)
	fileOrder.PutUint32(dst[24:], s.Mode)
	fileOrder.PutUint32(dst[28:], s.UID)
	fileOrder.PutUint32(dst[32:], s.GID)
	fileOrder.PutUint64(dst[40:], s.Rdev)
	fileOrder.PutUint64(dst[48:], uint64(s.Size))
	fileOrder.PutUint64(dst[56:], uint64(s.Blksize))
	fileOrder.PutUint64(dst[64:], uint64(s.Blocks))
	s.ATime.MarshalBytes(dst[72:])
	s.MTime.MarshalBytes(dst[88:])
	s.CTime.MarshalBytes(dst[104:])
}

// UnmarshalBytes decodes src into s.
func (s *Stat) UnmarshalBytes(src []byte) {
	s.Dev = fileOrder.Uint64(src[0:])
	s.Ino = fileOrder.Uint64(src[8:])
	s.Nlink = fileOrder.Uint64(src[16:])
	s.Mode = fileOrder.Uint32(src[24:])
	s.UID = fileOrder.Uint32(src[28:])
	s.GID = fileOrder.Uint32(src[32:])
	s.Rdev = fileOrder.Uint64(src[40:])
	s.Size = int64(fileOrder.Uint64(src[48:]))
	s.Blksize = int64(fileOrder.Uint64(src[56:]))
	s.Blocks = int64(fileOrder.Uint64(src[64:]))
	s.ATime.UnmarshalBytes(src[72:])
	s.MTime.UnmarshalBytes(src[88:])
	s.CTime.UnmarshalBytes(src[104:])
}

// StatxTimestamp is struct statx_timestamp.
type StatxTimestamp struct {
	Sec  int64
	Nsec uint32
	_    int32
}

// Statx is struct statx (Linux 6.16 layout, 256 bytes).
type Statx struct {
	Mask                   uint32
	Blksize                uint32
	Attributes             uint64
	Nlink                  uint32
	UID                    uint32
	GID                    uint32
	Mode                   uint16
	_                      uint16
	Ino                    uint64
	Size                   uint64
	Blocks                 uint64
	AttributesMask         uint64
	Atime                  StatxTimestamp
	Btime                  StatxTimestamp
	Ctime                  StatxTimestamp
	Mtime                  StatxTimestamp
	RdevMajor              uint32
	RdevMinor              uint32
	DevMajor               uint32
	DevMinor               uint32
	MntID                  uint64
	DioMemAlign            uint32
	DioOffsetAlign         uint32
	Subvol                 uint64
	AtomicWriteUnitMin     uint32
	AtomicWriteUnitMax     uint32
	AtomicWriteSegmentsMax uint32
	DioReadOffsetAlign     uint32
	AtomicWriteUnitMaxOpt  uint32
	_                      uint32
	_                      [8]uint64
}

// SizeofStatx is sizeof(struct statx).
const SizeofStatx = 256

// SizeBytes returns the Linux size of the structure.
func (*Statx) SizeBytes() int { return SizeofStatx }

func putStatxTimestamp(dst []byte, ts StatxTimestamp) {
	fileOrder.PutUint64(dst[0:], uint64(ts.Sec))
	fileOrder.PutUint32(dst[8:], ts.Nsec)
}

func getStatxTimestamp(src []byte) StatxTimestamp {
	return StatxTimestamp{Sec: int64(fileOrder.Uint64(src[0:])), Nsec: fileOrder.Uint32(src[8:])}
}

// MarshalBytes encodes s into dst; padding and spare fields are zeroed.
func (s *Statx) MarshalBytes(dst []byte) {
	dst = dst[:SizeofStatx]
	clear(dst)
	fileOrder.PutUint32(dst[0x00:], s.Mask)
	fileOrder.PutUint32(dst[0x04:], s.Blksize)
	fileOrder.PutUint64(dst[0x08:], s.Attributes)
	fileOrder.PutUint32(dst[0x10:], s.Nlink)
	fileOrder.PutUint32(dst[0x14:], s.UID)
	fileOrder.PutUint32(dst[0x18:], s.GID)
	fileOrder.PutUint16(dst[0x1c:], s.Mode)
	fileOrder.PutUint64(dst[0x20:], s.Ino)
	fileOrder.PutUint64(dst[0x28:], s.Size)
	fileOrder.PutUint64(dst[0x30:], s.Blocks)
	fileOrder.PutUint64(dst[0x38:], s.AttributesMask)
	putStatxTimestamp(dst[0x40:], s.Atime)
	putStatxTimestamp(dst[0x50:], s.Btime)
	putStatxTimestamp(dst[0x60:], s.Ctime)
	putStatxTimestamp(dst[0x70:], s.Mtime)
	fileOrder.PutUint32(dst[0x80:], s.RdevMajor)
	fileOrder.PutUint32(dst[0x84:], s.RdevMinor)
	fileOrder.PutUint32(dst[0x88:], s.DevMajor)
	fileOrder.PutUint32(dst[0x8c:], s.DevMinor)
	fileOrder.PutUint64(dst[0x90:], s.MntID)
	fileOrder.PutUint32(dst[0x98:], s.DioMemAlign)
	fileOrder.PutUint32(dst[0x9c:], s.DioOffsetAlign)
	fileOrder.PutUint64(dst[0xa0:], s.Subvol)
	fileOrder.PutUint32(dst[0xa8:], s.AtomicWriteUnitMin)
	fileOrder.PutUint32(dst[0xac:], s.AtomicWriteUnitMax)
	fileOrder.PutUint32(dst[0xb0:], s.AtomicWriteSegmentsMax)
	fileOrder.PutUint32(dst[0xb4:], s.DioReadOffsetAlign)
	fileOrder.PutUint32(dst[0xb8:], s.AtomicWriteUnitMaxOpt)
}

// UnmarshalBytes decodes src into s.
func (s *Statx) UnmarshalBytes(src []byte) {
	s.Mask = fileOrder.Uint32(src[0x00:])
	s.Blksize = fileOrder.Uint32(src[0x04:])
	s.Attributes = fileOrder.Uint64(src[0x08:])
	s.Nlink = fileOrder.Uint32(src[0x10:])
	s.UID = fileOrder.Uint32(src[0x14:])
	s.GID = fileOrder.Uint32(src[0x18:])
	s.Mode = fileOrder.Uint16(src[0x1c:])
	s.Ino = fileOrder.Uint64(src[0x20:])
	s.Size = fileOrder.Uint64(src[0x28:])
	s.Blocks = fileOrder.Uint64(src[0x30:])
	s.AttributesMask = fileOrder.Uint64(src[0x38:])
	s.Atime = getStatxTimestamp(src[0x40:])
	s.Btime = getStatxTimestamp(src[0x50:])
	s.Ctime = getStatxTimestamp(src[0x60:])
	s.Mtime = getStatxTimestamp(src[0x70:])
	s.RdevMajor = fileOrder.Uint32(src[0x80:])
	s.RdevMinor = fileOrder.Uint32(src[0x84:])
	s.DevMajor = fileOrder.Uint32(src[0x88:])
	s.DevMinor = fileOrder.Uint32(src[0x8c:])
	s.MntID = fileOrder.Uint64(src[0x90:])
	s.DioMemAlign = fileOrder.Uint32(src[0x98:])
	s.DioOffsetAlign = fileOrder.Uint32(src[0x9c:])
	s.Subvol = fileOrder.Uint64(src[0xa0:])
	s.AtomicWriteUnitMin = fileOrder.Uint32(src[0xa8:])
	s.AtomicWriteUnitMax = fileOrder.Uint32(src[0xac:])
	s.AtomicWriteSegmentsMax = fileOrder.Uint32(src[0xb0:])
	s.DioReadOffsetAlign = fileOrder.Uint32(src[0xb4:])
	s.AtomicWriteUnitMaxOpt = fileOrder.Uint32(src[0xb8:])
}

// Statfs is struct statfs on x86-64.
type Statfs struct {
	Type    int64
	Bsize   int64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	Fsid    [2]int32
	Namelen int64
	Frsize  int64
	Flags   int64
	Spare   [4]int64
}

// SizeofStatfs is sizeof(struct statfs).
const SizeofStatfs = 120

// SizeBytes returns the Linux size of the structure.
func (*Statfs) SizeBytes() int { return SizeofStatfs }

// MarshalBytes encodes s into dst.
func (s *Statfs) MarshalBytes(dst []byte) {
	fileOrder.PutUint64(dst[0:], uint64(s.Type))
	fileOrder.PutUint64(dst[8:], uint64(s.Bsize))
	fileOrder.PutUint64(dst[16:], s.Blocks)
	fileOrder.PutUint64(dst[24:], s.Bfree)
	fileOrder.PutUint64(dst[32:], s.Bavail)
	fileOrder.PutUint64(dst[40:], s.Files)
	fileOrder.PutUint64(dst[48:], s.Ffree)
	fileOrder.PutUint32(dst[56:], uint32(s.Fsid[0]))
	fileOrder.PutUint32(dst[60:], uint32(s.Fsid[1]))
	fileOrder.PutUint64(dst[64:], uint64(s.Namelen))
	fileOrder.PutUint64(dst[72:], uint64(s.Frsize))
	fileOrder.PutUint64(dst[80:], uint64(s.Flags))
	for i, v := range s.Spare {
		fileOrder.PutUint64(dst[88+8*i:], uint64(v))
	}
}

// UnmarshalBytes decodes src into s.
func (s *Statfs) UnmarshalBytes(src []byte) {
	s.Type = int64(fileOrder.Uint64(src[0:]))
	s.Bsize = int64(fileOrder.Uint64(src[8:]))
	s.Blocks = fileOrder.Uint64(src[16:])
	s.Bfree = fileOrder.Uint64(src[24:])
	s.Bavail = fileOrder.Uint64(src[32:])
	s.Files = fileOrder.Uint64(src[40:])
	s.Ffree = fileOrder.Uint64(src[48:])
	s.Fsid[0] = int32(fileOrder.Uint32(src[56:]))
	s.Fsid[1] = int32(fileOrder.Uint32(src[60:]))
	s.Namelen = int64(fileOrder.Uint64(src[64:]))
	s.Frsize = int64(fileOrder.Uint64(src[72:]))
	s.Flags = int64(fileOrder.Uint64(src[80:]))
	for i := range s.Spare {
		s.Spare[i] = int64(fileOrder.Uint64(src[88+8*i:]))
	}
}

// PollFD is struct pollfd.
type PollFD struct {
	FD      int32
	Events  int16
	Revents int16
}

// SizeofPollFD is sizeof(struct pollfd).
const SizeofPollFD = 8

// SizeBytes returns the Linux size of the structure.
func (*PollFD) SizeBytes() int { return SizeofPollFD }

// MarshalBytes encodes p into dst.
func (p *PollFD) MarshalBytes(dst []byte) {
	fileOrder.PutUint32(dst[0:], uint32(p.FD))
	fileOrder.PutUint16(dst[4:], uint16(p.Events))
	fileOrder.PutUint16(dst[6:], uint16(p.Revents))
}

// UnmarshalBytes decodes src into p.
func (p *PollFD) UnmarshalBytes(src []byte) {
	p.FD = int32(fileOrder.Uint32(src[0:]))
	p.Events = int16(fileOrder.Uint16(src[4:]))
	p.Revents = int16(fileOrder.Uint16(src[6:]))
}

// EpollEvent is struct epoll_event, which is packed on x86-64 (12 bytes,
// Data at offset 4).
type EpollEvent struct {
	Events uint32
	Data   uint64
}

// SizeofEpollEvent is sizeof(struct epoll_event) on x86-64.
const SizeofEpollEvent = 12

// SizeBytes returns the Linux size of the structure.
func (*EpollEvent) SizeBytes() int { return SizeofEpollEvent }

// MarshalBytes encodes e into dst.
func (e *EpollEvent) MarshalBytes(dst []byte) {
	fileOrder.PutUint32(dst[0:], e.Events)
	fileOrder.PutUint64(dst[4:], e.Data)
}

// UnmarshalBytes decodes src into e.
func (e *EpollEvent) UnmarshalBytes(src []byte) {
	e.Events = fileOrder.Uint32(src[0:])
	e.Data = fileOrder.Uint64(src[4:])
}

// Flock is struct flock (fcntl record locks).
type Flock struct {
	Type   int16
	Whence int16
	_      int32
	Start  int64
	Len    int64
	Pid    int32
	_      int32
}

// SizeofFlock is sizeof(struct flock).
const SizeofFlock = 32

// SizeBytes returns the Linux size of the structure.
func (*Flock) SizeBytes() int { return SizeofFlock }

// MarshalBytes encodes f into dst; padding is zeroed.
func (f *Flock) MarshalBytes(dst []byte) {
	dst = dst[:SizeofFlock]
	clear(dst)
	fileOrder.PutUint16(dst[0:], uint16(f.Type))
	fileOrder.PutUint16(dst[2:], uint16(f.Whence))
	fileOrder.PutUint64(dst[8:], uint64(f.Start))
	fileOrder.PutUint64(dst[16:], uint64(f.Len))
	fileOrder.PutUint32(dst[24:], uint32(f.Pid))
}

// UnmarshalBytes decodes src into f.
func (f *Flock) UnmarshalBytes(src []byte) {
	f.Type = int16(fileOrder.Uint16(src[0:]))
	f.Whence = int16(fileOrder.Uint16(src[2:]))
	f.Start = int64(fileOrder.Uint64(src[8:]))
	f.Len = int64(fileOrder.Uint64(src[16:]))
	f.Pid = int32(fileOrder.Uint32(src[24:]))
}

// OpenHow is struct open_how (openat2(2)), version 0.
type OpenHow struct {
	Flags   uint64
	Mode    uint64
	Resolve uint64
}

// SizeBytes returns the Linux size of the structure.
func (*OpenHow) SizeBytes() int { return OPEN_HOW_SIZE_VER0 }

// MarshalBytes encodes h into dst.
func (h *OpenHow) MarshalBytes(dst []byte) {
	fileOrder.PutUint64(dst[0:], h.Flags)
	fileOrder.PutUint64(dst[8:], h.Mode)
	fileOrder.PutUint64(dst[16:], h.Resolve)
}

// UnmarshalBytes decodes src into h.
func (h *OpenHow) UnmarshalBytes(src []byte) {
	h.Flags = fileOrder.Uint64(src[0:])
	h.Mode = fileOrder.Uint64(src[8:])
	h.Resolve = fileOrder.Uint64(src[16:])
}

// Dirent64 is the fixed head of struct linux_dirent64; the NUL-terminated
// name follows at offset 19 and the record is padded to 8 bytes.
type Dirent64 struct {
	Ino    uint64
	Off    int64
	Reclen uint16
	Type   uint8
}

// SizeofDirent64Head is offsetof(struct linux_dirent64, d_name).
const SizeofDirent64Head = 19

// SizeofDirentHead is offsetof(struct linux_dirent, d_name) (getdents(2)):
// d_ino, d_off (unsigned long each) and d_reclen; d_type is the last byte
// of the record.
const SizeofDirentHead = 18

// Utimbuf is struct utimbuf (utime(2)).
type Utimbuf struct {
	Actime  int64
	Modtime int64
}

// SizeofUtimbuf is sizeof(struct utimbuf).
const SizeofUtimbuf = 16

// SizeBytes returns the Linux size of the structure.
func (*Utimbuf) SizeBytes() int { return SizeofUtimbuf }

// MarshalBytes encodes u into dst.
func (u *Utimbuf) MarshalBytes(dst []byte) {
	fileOrder.PutUint64(dst[0:], uint64(u.Actime))
	fileOrder.PutUint64(dst[8:], uint64(u.Modtime))
}

// UnmarshalBytes decodes src into u.
func (u *Utimbuf) UnmarshalBytes(src []byte) {
	u.Actime = int64(fileOrder.Uint64(src[0:]))
	u.Modtime = int64(fileOrder.Uint64(src[8:]))
}
