package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Syncing, space allocation, advice and whole-file locks.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_FSYNC:           {Name: "fsync", Fn: Fsync},
		abi.SYS_FDATASYNC:       {Name: "fdatasync", Fn: Fdatasync},
		abi.SYS_SYNC:            {Name: "sync", Fn: Sync},
		abi.SYS_SYNCFS:          {Name: "syncfs", Fn: Syncfs},
		abi.SYS_SYNC_FILE_RANGE: {Name: "sync_file_range", Fn: SyncFileRange},
		abi.SYS_FALLOCATE:       {Name: "fallocate", Fn: Fallocate},
		abi.SYS_FADVISE64:       {Name: "fadvise64", Fn: Fadvise64},
		abi.SYS_READAHEAD:       {Name: "readahead", Fn: Readahead},
		abi.SYS_FLOCK: {Name: "flock", Fn: Flock, Support: Partial,
			Note: "a blocking lock wait cannot be interrupted by a guest signal (the host restarts it)"},
	})
}

// Fsync implements Linux syscall fsync(2).
func Fsync(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), unix.Fsync)
}

// Fdatasync implements Linux syscall fdatasync(2).
func Fdatasync(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), unix.Fdatasync)
}

// Sync implements Linux syscall sync(2).
func Sync(t *Task, a *Args) (uint64, error) {
	unix.Sync()
	return 0, nil
}

// Syncfs implements Linux syscall syncfs(2).
func Syncfs(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), unix.Syncfs)
}

// SyncFileRange implements Linux syscall sync_file_range(2).
func SyncFileRange(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error {
		return unix.SyncFileRange(h, int64(a[1]), int64(a[2]), int(a.Uint(3)))
	})
}

// Fallocate implements Linux syscall fallocate(2).
func Fallocate(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error {
		return unix.Fallocate(h, a.Uint(1), int64(a[2]), int64(a[3]))
	})
}

// Fadvise64 implements Linux syscall fadvise64(2).
func Fadvise64(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error {
		return unix.Fadvise(h, int64(a[1]), int64(a[2]), int(a.Int(3)))
	})
}

// Readahead implements Linux syscall readahead(2).
func Readahead(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), func(h int) error {
		_, _, e := unix.Syscall(unix.SYS_READAHEAD, uintptr(h), uintptr(a[1]), uintptr(a[2]))
		if e != 0 {
			return e
		}
		return nil
	})
}

// Flock implements Linux syscall flock(2). A blocking request waits in the
// host on the calling thread.
func Flock(t *Task, a *Args) (uint64, error) {
	op := int(a.Int(1))
	return t.withFD(a.Int(0), func(h int) error {
		if op&abi.LOCK_NB != 0 || op&abi.LOCK_UN != 0 {
			return unix.Flock(h, op)
		}
		return t.waitLock(func() error { return unix.Flock(h, op) })
	})
}
