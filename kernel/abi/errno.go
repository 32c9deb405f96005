package abi

import "syscall"

// Errno is a Linux error number. Handlers return it (as an error) and the
// dispatcher is the only place that turns it into -errno in rax.
type Errno uintptr

func (e Errno) Error() string { return syscall.Errno(e).Error() }

// Linux errno values (asm-generic/errno-base.h, errno.h).
const (
	EPERM          Errno = 1
	ENOENT         Errno = 2
	ESRCH          Errno = 3
	EINTR          Errno = 4
	EIO            Errno = 5
	ENXIO          Errno = 6
	E2BIG          Errno = 7
	ENOEXEC        Errno = 8
	EBADF          Errno = 9
	ECHILD         Errno = 10
	EAGAIN         Errno = 11
	ENOMEM         Errno = 12
	EACCES         Errno = 13
	EFAULT         Errno = 14
	EBUSY          Errno = 16
	EEXIST         Errno = 17
	EXDEV          Errno = 18
	ENODEV         Errno = 19
	ENOTDIR        Errno = 20
	EISDIR         Errno = 21
	EINVAL         Errno = 22
	ENFILE         Errno = 23
	EMFILE         Errno = 24
	ENOTTY         Errno = 25
	ETXTBSY        Errno = 26
	EFBIG          Errno = 27
	ENOSPC         Errno = 28
	ESPIPE         Errno = 29
	EROFS          Errno = 30
	EMLINK         Errno = 31
	EPIPE          Errno = 32
	EDOM           Errno = 33
	ERANGE         Errno = 34
	EDEADLK        Errno = 35
	ENAMETOOLONG   Errno = 36
	ENOSYS         Errno = 38
	ENOTEMPTY      Errno = 39
	ELOOP          Errno = 40
	ENODATA        Errno = 61
	EOVERFLOW      Errno = 75
	ENOTSOCK       Errno = 88
	EMSGSIZE       Errno = 90
	ENOPROTOOPT    Errno = 92
	EOPNOTSUPP     Errno = 95
	EAFNOSUPPORT   Errno = 97
	EADDRINUSE     Errno = 98
	ENOBUFS        Errno = 105
	ETIMEDOUT      Errno = 110
	EINPROGRESS    Errno = 115
	ESTALE         Errno = 116
	ERESTARTSYS    Errno = 512
	ERESTARTNOINTR Errno = 513
	ERESTARTNOHAND Errno = 514
	ERESTART_BLOCK Errno = 516
)
