package kernel

import (
	"encoding/binary"
	"path"
	"strconv"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// The guest's /proc/self/fd directory.
//
// Until /proc is synthetic, a guest that opens /proc/self/fd (or /dev/fd)
// gets the host directory, whose entries would be the guestproc's host
// numbers. Programs list it to find their open descriptors (closefrom
// fallbacks, Python's subprocess, ls), so its listing is built from the
// guest's table instead; names looked up in it (fstatat, readlinkat,
// openat relative to it) are guest numbers too (resolvePathString).

// isFDDirPath reports whether an absolute guest path names the guest's fd
// directory.
func isFDDirPath(p string) bool {
	switch path.Clean(p) {
	case "/proc/self/fd", "/proc/thread-self/fd", "/dev/fd":
		return true
	}
	return false
}

// fdDirState is the read position of one open fd directory, shared by its
// dups as a file offset is.
type fdDirState struct {
	mu sync.Mutex
	// pos counts entries already returned: ".", "..", then the open
	// descriptors in ascending order.
	pos int64
}

// installFDDir installs a host descriptor of /proc/self/fd as the guest's
// fd directory.
func (t *Task) installFDDir(hostfd int, cloexec bool) (uint64, error) {
	file := newHostFile(hostfd)
	file.fdDir = &fdDirState{}
	fd, err := t.Proc.FDs.installFile(file, cloexec, 0)
	if err != nil {
		unix.Close(hostfd)
		return 0, err
	}
	return uint64(fd), nil
}

// seek implements lseek(2) on the directory: SEEK_SET and SEEK_CUR move
// among entries (offsets are entry indexes, as getdents' d_off says).
func (d *fdDirState) seek(off int64, whence int) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch whence {
	case abi.SEEK_SET:
	case abi.SEEK_CUR:
		off += d.pos
	default:
		return 0, abi.EINVAL
	}
	if off < 0 {
		return 0, abi.EINVAL
	}
	d.pos = off
	return uint64(off), nil
}

// getdents fills buf with linux_dirent64 records from the current
// position: EINVAL if not even one fits, 0 at the end.
func (d *fdDirState) getdents(fds *FDTable, buf []byte) (int, error) {
	type entry struct {
		name string
		typ  uint8
		ino  uint64
	}
	entries := []entry{{".", abi.DT_DIR, 1}, {"..", abi.DT_DIR, 1}}
	for _, e := range fds.Entries() {
		entries = append(entries, entry{strconv.Itoa(int(e.FD)), abi.DT_LNK, uint64(e.FD) + 2})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for d.pos < int64(len(entries)) {
		e := entries[d.pos]
		reclen := (abi.SizeofDirent64Head + len(e.name) + 1 + 7) &^ 7
		if n+reclen > len(buf) {
			if n == 0 {
				return 0, abi.EINVAL
			}
			break
		}
		rec := buf[n : n+reclen]
		clear(rec)
		binary.LittleEndian.PutUint64(rec[0:], e.ino)
		binary.LittleEndian.PutUint64(rec[8:], uint64(d.pos+1))
		binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
		rec[18] = e.typ
		copy(rec[abi.SizeofDirent64Head:], e.name)
		n += reclen
		d.pos++
	}
	return n, nil
}
