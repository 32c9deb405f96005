package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Data transfer: read, write and their positional and vectored forms, and
// the in-kernel copies (sendfile, copy_file_range). Data goes straight
// between the host descriptor and guest memory (Memory.Slice): no copy.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_READ:            {Name: "read", Fn: Read},
		abi.SYS_WRITE:           {Name: "write", Fn: Write},
		abi.SYS_PREAD64:         {Name: "pread64", Fn: Pread64},
		abi.SYS_PWRITE64:        {Name: "pwrite64", Fn: Pwrite64},
		abi.SYS_READV:           {Name: "readv", Fn: Readv},
		abi.SYS_WRITEV:          {Name: "writev", Fn: Writev},
		abi.SYS_PREADV:          {Name: "preadv", Fn: Preadv},
		abi.SYS_PWRITEV:         {Name: "pwritev", Fn: Pwritev},
		abi.SYS_PREADV2:         {Name: "preadv2", Fn: Preadv2},
		abi.SYS_PWRITEV2:        {Name: "pwritev2", Fn: Pwritev2},
		abi.SYS_SENDFILE:        {Name: "sendfile", Fn: Sendfile},
		abi.SYS_COPY_FILE_RANGE: {Name: "copy_file_range", Fn: CopyFileRange},
	})
}

// userSpaceEnd is Linux's TASK_SIZE_MAX, the end of x86-64 user space with
// 4-level paging, as access_ok checks it: a buffer, even an empty one, must
// end at or below it. (The proc branch adds abi.TASK_SIZE_MAX with the same
// value; use that once both are merged.)
const userSpaceEnd = 1<<47 - abi.PageSize

// ioBuf returns a host view of the guest buffer [addr, addr+n) for a
// transfer, n capped at MAX_RW_COUNT as Linux does. If only a prefix of the
// buffer is accessible, the view covers that prefix (Linux transfers up to
// the first fault and returns the short count); EFAULT if not even the
// first byte is.
func (t *Task) ioBuf(addr abi.Addr, n uint64, write bool) ([]byte, error) {
	n = min(n, abi.MAX_RW_COUNT)
	if end, ok := addr.AddLength(n); !ok || end > userSpaceEnd {
		// Linux's access_ok: even an empty buffer must be a user address.
		return nil, abi.EFAULT
	}
	if n == 0 {
		return []byte{}, nil
	}
	b, err := t.Slice(addr, int(n), write)
	if err == nil {
		return b, nil
	}
	// Find the longest accessible prefix, in whole pages past the first
	// page boundary: accessibility of a prefix is monotone in its length.
	first := uint64(addr.RoundDown() + abi.PageSize - addr)
	if first >= n {
		return nil, abi.EFAULT
	}
	if _, err := t.Slice(addr, int(first), write); err != nil {
		return nil, abi.EFAULT
	}
	lo, hi := uint64(0), (n-first)/abi.PageSize // pages after first: lo ok, hi+1 not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := t.Slice(addr, int(first+mid*abi.PageSize), write); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return t.Slice(addr, int(first+lo*abi.PageSize), write)
}

// ioVecs reads a guest iovec array and returns host views of the buffers,
// cut at the first inaccessible byte (EFAULT if that is the very first).
func (t *Task) ioVecs(addr abi.Addr, count uint64, write bool) ([][]byte, error) {
	if count > abi.IOV_MAX {
		return nil, abi.EINVAL
	}
	if count == 0 {
		return nil, nil
	}
	raw := make([]byte, count*abi.SizeofIovec)
	if _, err := t.CopyIn(addr, raw); err != nil {
		return nil, err
	}
	iovs := make([]abi.Iovec, count)
	for i := range iovs {
		iovs[i].UnmarshalBytes(raw[i*abi.SizeofIovec:])
		if int64(iovs[i].Len) < 0 {
			return nil, abi.EINVAL
		}
		// access_ok on every segment, as Linux's import_iovec.
		if end, ok := iovs[i].Base.AddLength(iovs[i].Len); !ok || end > userSpaceEnd {
			return nil, abi.EFAULT
		}
	}
	out := make([][]byte, 0, count)
	total := uint64(0)
	for _, iov := range iovs {
		n := min(iov.Len, abi.MAX_RW_COUNT-total)
		if n == 0 {
			continue
		}
		b, err := t.ioBuf(iov.Base, n, write)
		if err != nil {
			if len(out) == 0 {
				return nil, err
			}
			break
		}
		out = append(out, b)
		total += uint64(len(b))
		if uint64(len(b)) < n {
			break
		}
	}
	return out, nil
}

// sigpipeOnEPIPE raises SIGPIPE for a write that failed with EPIPE, as
// Linux's pipe and socket writes do (the syscall still returns EPIPE). The
// host's own SIGPIPE went to the guestproc, whose Go runtime ignores it.
func (t *Task) sigpipeOnEPIPE(err error) {
	if err == unix.EPIPE {
		t.SendSignal(abi.SIGPIPE, nil)
	}
}

// ioEvents is the readiness a transfer of n bytes waits for: none for an
// empty one, which never blocks.
func ioEvents(toGuest bool, n int) int16 {
	switch {
	case n == 0:
		return 0
	case toGuest:
		return unix.POLLIN
	default:
		return unix.POLLOUT
	}
}

// iovLen returns the total length of iovs.
func iovLen(iovs [][]byte) int {
	n := 0
	for _, b := range iovs {
		n += len(b)
	}
	return n
}

// rwBuf runs a single-buffer transfer on guest fd a[0] with the guest
// buffer a[1] of length a[2]; toGuest says data flows into guest memory
// (the read family) rather than out of it (the write family).
//
// off is where a write lands, -1 for the file position (RLIMIT_FSIZE).
func (t *Task) rwBuf(a *Args, toGuest bool, off int64, op func(host int, b []byte) (int, error)) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	if f.sigfd != nil {
		return t.signalfdIO(f, a.Addr(1), a[2], toGuest)
	}
	if f.pidfd != nil {
		return 0, abi.EINVAL // sys_pidfd.go
	}
	b, err := t.ioBuf(a.Addr(1), a[2], toGuest)
	if err != nil {
		return 0, err
	}
	if f.writeTo != nil && !toGuest {
		return t.writePut(f, [][]byte{b}) // procfs_comm.go
	}
	if err := t.ttyTransferCheck(f, toGuest); err != nil {
		return 0, err
	}
	if !toGuest {
		room, err := t.fsizeRoom(f.FD(), off, len(b)) // rlimit_fsize.go
		if err != nil {
			return 0, err
		}
		b = b[:room]
	}
	n, err := t.waitIO(func() (int, error) { return op(f.FD(), b) }, ioWait{f, ioEvents(toGuest, len(b))})
	if err != nil {
		if !toGuest {
			t.sigpipeOnEPIPE(err)
		}
		return 0, err
	}
	if !toGuest {
		t.ptyInput(f, [][]byte{b}, n) // pty_signal.go
	}
	return uint64(n), nil
}

// rwVec runs a vectored transfer on guest fd a[0] with the iovec array
// a[1] of a[2] entries (toGuest as for rwBuf).
func (t *Task) rwVec(a *Args, toGuest bool, off int64, op func(host int, iovs [][]byte) (int, error)) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	if f.sigfd != nil {
		return t.signalfdIOVec(f, a.Addr(1), a[2], toGuest)
	}
	if f.pidfd != nil {
		return 0, abi.EINVAL // sys_pidfd.go
	}
	iovs, err := t.ioVecs(a.Addr(1), a[2], toGuest)
	if err != nil {
		return 0, err
	}
	if f.writeTo != nil && !toGuest {
		return t.writePut(f, iovs) // procfs_comm.go
	}
	if len(iovs) == 0 {
		// Let the host still check the descriptor's mode and offset.
		iovs = [][]byte{{}}
	}
	if err := t.ttyTransferCheck(f, toGuest); err != nil {
		return 0, err
	}
	if !toGuest {
		if iovs, err = t.fsizeClip(f.FD(), off, iovs); err != nil { // rlimit_fsize.go
			return 0, err
		}
	}
	n, err := t.waitIO(func() (int, error) { return op(f.FD(), iovs) }, ioWait{f, ioEvents(toGuest, iovLen(iovs))})
	if err != nil {
		if !toGuest {
			t.sigpipeOnEPIPE(err)
		}
		return 0, err
	}
	if !toGuest {
		t.ptyInput(f, iovs, n) // pty_signal.go
	}
	return uint64(n), nil
}

// ttyTransferCheck applies job control to a transfer on the controlling
// terminal (tty.go): a read from a background group gets SIGTTIN, a write
// SIGTTOU when the terminal has TOSTOP. Other files pay a cached check.
func (t *Task) ttyTransferCheck(f *HostFile, toGuest bool) error {
	if toGuest {
		return t.ttyReadCheck(f)
	}
	return t.ttyWriteCheck(f)
}

// Read implements Linux syscall read(2).
func Read(t *Task, a *Args) (uint64, error) {
	return t.rwBuf(a, true, -1, unix.Read)
}

// Write implements Linux syscall write(2).
func Write(t *Task, a *Args) (uint64, error) {
	return t.rwBuf(a, false, -1, unix.Write)
}

// Pread64 implements Linux syscall pread64(2).
func Pread64(t *Task, a *Args) (uint64, error) {
	off := int64(a[3])
	return t.rwBuf(a, true, off, func(h int, b []byte) (int, error) { return unix.Pread(h, b, off) })
}

// Pwrite64 implements Linux syscall pwrite64(2).
func Pwrite64(t *Task, a *Args) (uint64, error) {
	off := int64(a[3])
	return t.rwBuf(a, false, explicitOffset(off), func(h int, b []byte) (int, error) { return unix.Pwrite(h, b, off) })
}

// Readv implements Linux syscall readv(2).
func Readv(t *Task, a *Args) (uint64, error) {
	return t.rwVec(a, true, -1, unix.Readv)
}

// Writev implements Linux syscall writev(2).
func Writev(t *Task, a *Args) (uint64, error) {
	return t.rwVec(a, false, -1, unix.Writev)
}

// Preadv implements Linux syscall preadv(2). On x86-64 the whole offset is
// in pos_l (the fourth argument).
func Preadv(t *Task, a *Args) (uint64, error) {
	off := int64(a[3])
	if off < 0 {
		return 0, abi.EINVAL
	}
	return t.rwVec(a, true, off, func(h int, v [][]byte) (int, error) { return unix.Preadv(h, v, off) })
}

// Pwritev implements Linux syscall pwritev(2).
func Pwritev(t *Task, a *Args) (uint64, error) {
	off := int64(a[3])
	if off < 0 {
		return 0, abi.EINVAL
	}
	return t.rwVec(a, false, off, func(h int, v [][]byte) (int, error) { return unix.Pwritev(h, v, off) })
}

// Preadv2 implements Linux syscall preadv2(2); offset -1 uses and updates
// the file position.
func Preadv2(t *Task, a *Args) (uint64, error) {
	off, flags := int64(a[3]), int(a.Int(5))
	return t.rwVec(a, true, off, func(h int, v [][]byte) (int, error) { return unix.Preadv2(h, v, off, flags) })
}

// Pwritev2 implements Linux syscall pwritev2(2).
func Pwritev2(t *Task, a *Args) (uint64, error) {
	off, flags := int64(a[3]), int(a.Int(5))
	at := explicitOffset(off)
	if off == -1 {
		at = -1
	}
	return t.rwVec(a, false, at, func(h int, v [][]byte) (int, error) { return unix.Pwritev2(h, v, off, flags) })
}

// copyInOffset reads an optional loff_t in/out argument (nil for NULL).
func (t *Task) copyInOffset(addr abi.Addr) (*int64, error) {
	if addr == 0 {
		return nil, nil
	}
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return nil, err
	}
	off := int64(binary.LittleEndian.Uint64(b[:]))
	return &off, nil
}

// copyOutOffset writes back an offset read by copyInOffset.
func (t *Task) copyOutOffset(addr abi.Addr, off *int64) error {
	if off == nil {
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(*off))
	_, err := t.CopyOut(addr, b[:])
	return err
}

// transfer2 acquires two descriptors for an in-kernel copy and runs op as
// a blocking I/O call, waiting first for input to read and room to write
// unless nonblock (SPLICE_F_NONBLOCK) says the call must not wait.
func (t *Task) transfer2(in, out int32, nonblock bool, op func(hin, hout int) (int, error)) (uint64, error) {
	fin, err := t.Proc.FDs.Acquire(in)
	if err != nil {
		return 0, err
	}
	defer fin.Release()
	fout, err := t.Proc.FDs.Acquire(out)
	if err != nil {
		return 0, err
	}
	defer fout.Release()
	// The terminal's job control applies as to read and write: Linux
	// copies through the tty's own read and write.
	if err := t.ttyReadCheck(fin); err != nil {
		return 0, err
	}
	if err := t.ttyWriteCheck(fout); err != nil {
		return 0, err
	}
	var waits []ioWait
	if !nonblock {
		waits = []ioWait{{fin, unix.POLLIN}, {fout, unix.POLLOUT}}
	}
	n, err := t.waitIO(func() (int, error) { return op(fin.FD(), fout.FD()) }, waits...)
	if err != nil {
		t.sigpipeOnEPIPE(err)
		return 0, err
	}
	return uint64(n), nil
}

// Sendfile implements Linux syscall sendfile(2).
func Sendfile(t *Task, a *Args) (uint64, error) {
	out, in, offAddr, count := a.Int(0), a.Int(1), a.Addr(2), min(a[3], abi.MAX_RW_COUNT)
	off, err := t.copyInOffset(offAddr)
	if err != nil {
		return 0, err
	}
	n, err := t.transfer2(in, out, false, func(hin, hout int) (int, error) {
		return unix.Sendfile(hout, hin, off, int(count))
	})
	if err != nil {
		return 0, err
	}
	return n, t.copyOutOffset(offAddr, off)
}

// CopyFileRange implements Linux syscall copy_file_range(2).
func CopyFileRange(t *Task, a *Args) (uint64, error) {
	in, inOffAddr, out, outOffAddr, length, flags := a.Int(0), a.Addr(1), a.Int(2), a.Addr(3), a[4], int(a.Uint(5))
	inOff, err := t.copyInOffset(inOffAddr)
	if err != nil {
		return 0, err
	}
	outOff, err := t.copyInOffset(outOffAddr)
	if err != nil {
		return 0, err
	}
	n, err := t.transfer2(in, out, false, func(hin, hout int) (int, error) {
		return unix.CopyFileRange(hin, inOff, hout, outOff, int(min(length, 1<<62)), flags)
	})
	if err != nil {
		return 0, err
	}
	if err := t.copyOutOffset(inOffAddr, inOff); err != nil {
		return 0, err
	}
	return n, t.copyOutOffset(outOffAddr, outOff)
}
