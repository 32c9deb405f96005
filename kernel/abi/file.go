package abi

// File-related constants of the Linux x86-64 ABI (include/uapi/asm-generic/
// fcntl.h, linux/fcntl.h, linux/stat.h, linux/eventpoll.h, poll.h).

// open(2) flags.
const (
	O_ACCMODE   = 0o3
	O_RDONLY    = 0o0
	O_WRONLY    = 0o1
	O_RDWR      = 0o2
	O_CREAT     = 0o100
	O_EXCL      = 0o200
	O_NOCTTY    = 0o400
	O_TRUNC     = 0o1000
	O_APPEND    = 0o2000
	O_NONBLOCK  = 0o4000
	O_DSYNC     = 0o10000
	O_ASYNC     = 0o20000
	O_DIRECT    = 0o40000
	O_LARGEFILE = 0o100000
	O_DIRECTORY = 0o200000
	O_NOFOLLOW  = 0o400000
	O_NOATIME   = 0o1000000
	O_CLOEXEC   = 0o2000000
	O_SYNC      = 0o4010000
	O_PATH      = 0o10000000
	O_TMPFILE   = 0o20200000
)

// *at(2) flags and the special directory descriptor.
const (
	AT_FDCWD            = -100
	AT_SYMLINK_NOFOLLOW = 0x100
	AT_EACCESS          = 0x200
	AT_REMOVEDIR        = 0x200
	AT_SYMLINK_FOLLOW   = 0x400
	AT_NO_AUTOMOUNT     = 0x800
	AT_EMPTY_PATH       = 0x1000
	AT_STATX_SYNC_TYPE  = 0x6000
)

// openat2(2) resolve flags and the size of struct open_how.
const (
	RESOLVE_NO_XDEV       = 0x01
	RESOLVE_NO_MAGICLINKS = 0x02
	RESOLVE_NO_SYMLINKS   = 0x04
	RESOLVE_BENEATH       = 0x08
	RESOLVE_IN_ROOT       = 0x10
	RESOLVE_CACHED        = 0x20

	OPEN_HOW_SIZE_VER0 = 24
)

// fcntl(2) commands.
const (
	F_DUPFD         = 0
	F_GETFD         = 1
	F_SETFD         = 2
	F_GETFL         = 3
	F_SETFL         = 4
	F_GETLK         = 5
	F_SETLK         = 6
	F_SETLKW        = 7
	F_SETOWN        = 8
	F_GETOWN        = 9
	F_SETSIG        = 10
	F_GETSIG        = 11
	F_OFD_GETLK     = 36
	F_OFD_SETLK     = 37
	F_OFD_SETLKW    = 38
	F_SETLEASE      = 1024
	F_GETLEASE      = 1025
	F_NOTIFY        = 1026
	F_DUPFD_CLOEXEC = 1030
	F_SETPIPE_SZ    = 1031
	F_GETPIPE_SZ    = 1032
	F_ADD_SEALS     = 1033
	F_GET_SEALS     = 1034

	FD_CLOEXEC = 1

	F_RDLCK = 0
	F_WRLCK = 1
	F_UNLCK = 2
)

// lseek(2) whence values.
const (
	SEEK_SET  = 0
	SEEK_CUR  = 1
	SEEK_END  = 2
	SEEK_DATA = 3
	SEEK_HOLE = 4
)

// close_range(2) flags.
const (
	CLOSE_RANGE_UNSHARE = 1 << 1
	CLOSE_RANGE_CLOEXEC = 1 << 2
)

// Limits.
const (
	PATH_MAX = 4096
	// IOV_MAX (UIO_MAXIOV) bounds the iovec count of readv and friends.
	IOV_MAX = 1024
	// MAX_RW_COUNT is the largest count one read or write transfers.
	MAX_RW_COUNT = 0x7ffff000
	// FD_SETSIZE is the size of select(2)'s fd_set in bits.
	FD_SETSIZE = 1024
	// EP_MAX_EVENTS is INT_MAX / sizeof(struct epoll_event).
	EP_MAX_EVENTS = 0x7fffffff / 12
	// MFD_NAME_MAX is the longest memfd_create(2) name.
	MFD_NAME_MAX = 249
)

// Poll events (poll.h).
const (
	POLLIN     = 0x001
	POLLPRI    = 0x002
	POLLOUT    = 0x004
	POLLERR    = 0x008
	POLLHUP    = 0x010
	POLLNVAL   = 0x020
	POLLRDNORM = 0x040
	POLLRDBAND = 0x080
	POLLWRNORM = 0x100
	POLLWRBAND = 0x200
	POLLMSG    = 0x400
	POLLRDHUP  = 0x2000
)

// epoll(7).
const (
	EPOLL_CLOEXEC = O_CLOEXEC

	EPOLL_CTL_ADD = 1
	EPOLL_CTL_DEL = 2
	EPOLL_CTL_MOD = 3
)

// eventfd(2), memfd_create(2), pipe2(2) flags that elfuse checks itself.
const (
	EFD_SEMAPHORE = 1
	EFD_CLOEXEC   = O_CLOEXEC
	EFD_NONBLOCK  = O_NONBLOCK

	MFD_CLOEXEC       = 0x1
	MFD_ALLOW_SEALING = 0x2
	MFD_HUGETLB       = 0x4
	MFD_NOEXEC_SEAL   = 0x8
	MFD_EXEC          = 0x10
)

// flock(2) operations.
const (
	LOCK_SH = 1
	LOCK_EX = 2
	LOCK_NB = 4
	LOCK_UN = 8
)

// utimensat(2) special nanosecond values.
const (
	UTIME_NOW  = (1 << 30) - 1
	UTIME_OMIT = (1 << 30) - 2
)

// renameat2(2) flags.
const (
	RENAME_NOREPLACE = 1 << 0
	RENAME_EXCHANGE  = 1 << 1
	RENAME_WHITEOUT  = 1 << 2
)

// File types in st_mode and d_type.
const (
	S_IFMT   = 0o170000
	S_IFSOCK = 0o140000
	S_IFLNK  = 0o120000
	S_IFREG  = 0o100000
	S_IFBLK  = 0o060000
	S_IFDIR  = 0o040000
	S_IFCHR  = 0o020000
	S_IFIFO  = 0o010000

	DT_UNKNOWN = 0
	DT_FIFO    = 1
	DT_CHR     = 2
	DT_DIR     = 4
	DT_BLK     = 6
	DT_REG     = 8
	DT_LNK     = 10
	DT_SOCK    = 12
)

// Extended attributes (linux/limits.h, linux/xattr.h).
const (
	XATTR_NAME_MAX = 255
	XATTR_SIZE_MAX = 65536
	XATTR_CREATE   = 0x1
	XATTR_REPLACE  = 0x2
)

// inotify(7) flags elfuse checks itself.
const (
	IN_CLOEXEC     = O_CLOEXEC
	IN_NONBLOCK    = O_NONBLOCK
	IN_DONT_FOLLOW = 0x02000000
)

// signalfd4(2) flags and the record read(2) returns.
const (
	SFD_NONBLOCK = O_NONBLOCK
	SFD_CLOEXEC  = O_CLOEXEC
	// SizeofSignalfdSiginfo is sizeof(struct signalfd_siginfo).
	SizeofSignalfdSiginfo = 128
)
