package kernel

// RLIMIT_FSIZE: a write that would take a regular file past the soft
// limit is cut at the limit, and one starting at or beyond it fails with
// EFBIG after a SIGXFSZ to the caller (Linux's generic_write_check_limits);
// truncate and ftruncate to a length past it fail the same way
// (inode_newsize_ok). The host cannot enforce it for the guest: the limit
// would bind the guestproc's own files too (its RAM memfds are sized far
// beyond any limit), so the kernel checks before each write, at one
// atomic load when no limit is set.

import (
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// syncFsizeLimit caches the RLIMIT_FSIZE soft limit for the write paths:
// the limit plus one, 0 for none (RLIM_INFINITY, whose sum wraps to 0).
func (p *Process) syncFsizeLimit() {
	p.fsize.Store(p.Rlimit(abi.RLIMIT_FSIZE).Cur + 1)
}

// fsizeLimit returns the RLIMIT_FSIZE soft limit and whether one is set.
func (p *Process) fsizeLimit() (uint64, bool) {
	v := p.fsize.Load()
	return v - 1, v != 0
}

// fileSizeExceeded is the answer to a write or resize past the limit.
func (t *Task) fileSizeExceeded() error {
	t.SendSignal(abi.SIGXFSZ, nil)
	return abi.EFBIG
}

// explicitOffset is the offset of a write at an offset the caller gave
// (pwrite): a negative one, which the host refuses, is not checked.
func explicitOffset(off int64) int64 {
	if off < 0 {
		return noOffset
	}
	return off
}

// noOffset marks a write fsizeRoom does not check.
const noOffset = -2

// fsizeRoom returns how many of n bytes a write to host fd at off (-1:
// the file position, or the end for O_APPEND; noOffset: unchecked) may
// write under RLIMIT_FSIZE; EFBIG (with SIGXFSZ) when none may.
func (t *Task) fsizeRoom(host int, off int64, n int) (int, error) {
	limit, ok := t.Proc.fsizeLimit()
	if !ok || n == 0 || off < -1 {
		return n, nil
	}
	var st unix.Stat_t
	if unix.Fstat(host, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return n, nil
	}
	pos := off
	if pos < 0 {
		if fl, err := unix.FcntlInt(uintptr(host), unix.F_GETFL, 0); err == nil && fl&unix.O_APPEND != 0 {
			pos = st.Size
		} else if pos, err = unix.Seek(host, 0, unix.SEEK_CUR); err != nil {
			return n, nil
		}
	}
	if uint64(pos) >= limit {
		return 0, t.fileSizeExceeded()
	}
	return int(min(uint64(n), limit-uint64(pos))), nil
}

// fsizeClip cuts the buffers of a write to the room fsizeRoom leaves.
func (t *Task) fsizeClip(host int, off int64, bufs [][]byte) ([][]byte, error) {
	total := iovLen(bufs)
	room, err := t.fsizeRoom(host, off, total)
	if err != nil || room == total {
		return bufs, err
	}
	var out [][]byte
	for _, b := range bufs {
		if room == 0 {
			break
		}
		k := min(len(b), room)
		out = append(out, b[:k])
		room -= k
	}
	return out, nil
}

// fsizeResize checks a truncate to length against the limit.
func (t *Task) fsizeResize(length int64) error {
	if limit, ok := t.Proc.fsizeLimit(); ok && length > 0 && uint64(length) > limit {
		return t.fileSizeExceeded()
	}
	return nil
}
