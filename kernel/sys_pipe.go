package kernel

import (
	"encoding/binary"
	"errors"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Pipes and other anonymous descriptors (eventfd, memfd), and the pipe
// data movers splice and tee. All are host objects: a guest pipe is a host
// pipe, so it keeps working across fork and exec of the guest.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_PIPE:         {Name: "pipe", Fn: Pipe},
		abi.SYS_PIPE2:        {Name: "pipe2", Fn: Pipe2},
		abi.SYS_EVENTFD:      {Name: "eventfd", Fn: Eventfd},
		abi.SYS_EVENTFD2:     {Name: "eventfd2", Fn: Eventfd2},
		abi.SYS_MEMFD_CREATE: {Name: "memfd_create", Fn: MemfdCreate},
		abi.SYS_SPLICE:       {Name: "splice", Fn: Splice},
		abi.SYS_TEE:          {Name: "tee", Fn: Tee},
		abi.SYS_VMSPLICE: {Name: "vmsplice", Fn: Vmsplice, Support: Partial,
			Note: "copies (no page gifting): writev into the pipe or readv from it"},
	})
}

// pipe2 is the core of pipe and pipe2.
func (t *Task) pipe2(addr abi.Addr, flags int) (uint64, error) {
	if flags&^(abi.O_CLOEXEC|abi.O_NONBLOCK|abi.O_DIRECT) != 0 {
		return 0, abi.EINVAL
	}
	var host [2]int
	if err := unix.Pipe2(host[:], flags|unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	cloexec := flags&abi.O_CLOEXEC != 0
	fds := t.Proc.FDs
	r, err := fds.Install(host[0], cloexec, 0)
	if err != nil {
		unix.Close(host[0])
		unix.Close(host[1])
		return 0, err
	}
	w, err := fds.Install(host[1], cloexec, 0)
	if err != nil {
		fds.Close(r)
		unix.Close(host[1])
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(r))
	binary.LittleEndian.PutUint32(b[4:], uint32(w))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		fds.Close(r)
		fds.Close(w)
		return 0, err
	}
	return 0, nil
}

// Pipe implements Linux syscall pipe(2).
func Pipe(t *Task, a *Args) (uint64, error) {
	return t.pipe2(a.Addr(0), 0)
}

// Pipe2 implements Linux syscall pipe2(2).
func Pipe2(t *Task, a *Args) (uint64, error) {
	return t.pipe2(a.Addr(0), int(a.Int(1)))
}

// eventfd2 is the core of eventfd and eventfd2.
func (t *Task) eventfd2(initval uint32, flags int) (uint64, error) {
	if flags&^(abi.EFD_SEMAPHORE|abi.EFD_CLOEXEC|abi.EFD_NONBLOCK) != 0 {
		return 0, abi.EINVAL
	}
	h, err := unix.Eventfd(uint(initval), flags|unix.EFD_CLOEXEC)
	if err != nil {
		return 0, err
	}
	return t.installHost(h, flags&abi.EFD_CLOEXEC != 0)
}

// Eventfd implements Linux syscall eventfd(2).
func Eventfd(t *Task, a *Args) (uint64, error) {
	return t.eventfd2(a.Uint(0), 0)
}

// Eventfd2 implements Linux syscall eventfd2(2).
func Eventfd2(t *Task, a *Args) (uint64, error) {
	return t.eventfd2(a.Uint(0), int(a.Int(1)))
}

// MemfdCreate implements Linux syscall memfd_create(2).
func MemfdCreate(t *Task, a *Args) (uint64, error) {
	flags := int(a.Uint(1))
	name, err := t.CopyInString(a.Addr(0), abi.MFD_NAME_MAX+1)
	if errors.Is(err, abi.ENAMETOOLONG) {
		return 0, abi.EINVAL
	}
	if err != nil {
		return 0, err
	}
	h, err := unix.MemfdCreate(name, flags|unix.MFD_CLOEXEC)
	if err != nil {
		return 0, err
	}
	return t.installHost(h, flags&abi.MFD_CLOEXEC != 0)
}

// Splice implements Linux syscall splice(2).
func Splice(t *Task, a *Args) (uint64, error) {
	in, inOffAddr, out, outOffAddr, length, flags := a.Int(0), a.Addr(1), a.Int(2), a.Addr(3), a[4], int(a.Uint(5))
	inOff, err := t.copyInOffset(inOffAddr)
	if err != nil {
		return 0, err
	}
	outOff, err := t.copyInOffset(outOffAddr)
	if err != nil {
		return 0, err
	}
	if err := t.pipeArgs(in, out, false); err != nil {
		return 0, err
	}
	n, err := t.transfer2(in, out, flags&unix.SPLICE_F_NONBLOCK != 0, func(hin, hout int) (int, error) {
		n, err := unix.Splice(hin, inOff, hout, outOff, int(min(length, abi.MAX_RW_COUNT)), flags)
		return int(n), err
	})
	if err != nil {
		return 0, err
	}
	if err := t.copyOutOffset(inOffAddr, inOff); err != nil {
		return 0, err
	}
	return n, t.copyOutOffset(outOffAddr, outOff)
}

// isPipe reports whether guest descriptor fd is a pipe (EBADF for a bad
// one).
func (t *Task) isPipe(fd int32) (bool, error) {
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return false, err
	}
	defer f.Release()
	var st unix.Stat_t
	return unix.Fstat(f.FD(), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO, nil
}

// pipeArgs checks the descriptors of tee (both pipes) or splice (one at
// least) before the transfer waits for data: Linux refuses others with
// EINVAL at once, where a wait for input would block forever.
func (t *Task) pipeArgs(in, out int32, both bool) error {
	pi, err := t.isPipe(in)
	if err != nil {
		return err
	}
	po, err := t.isPipe(out)
	if err != nil {
		return err
	}
	if (both && !(pi && po)) || (!both && !pi && !po) {
		return abi.EINVAL
	}
	return nil
}

// Tee implements Linux syscall tee(2).
func Tee(t *Task, a *Args) (uint64, error) {
	in, out, length, flags := a.Int(0), a.Int(1), a[2], int(a.Uint(3))
	if err := t.pipeArgs(in, out, true); err != nil {
		return 0, err
	}
	return t.transfer2(in, out, flags&unix.SPLICE_F_NONBLOCK != 0, func(hin, hout int) (int, error) {
		n, err := unix.Tee(hin, hout, int(min(length, abi.MAX_RW_COUNT)), flags)
		return int(n), err
	})
}

// Vmsplice implements Linux syscall vmsplice(2): the guest's iovecs go
// into a pipe's write end or come out of its read end, by copy (Linux may
// map the pages instead; SPLICE_F_GIFT is only a hint). SPLICE_F_NONBLOCK
// makes a full or empty pipe EAGAIN whatever the descriptor's mode.
func Vmsplice(t *Task, a *Args) (uint64, error) {
	flags := a.Uint(3)
	if flags&^uint32(unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MORE|unix.SPLICE_F_GIFT) != 0 {
		return 0, abi.EINVAL
	}
	if pipe, err := t.isPipe(a.Int(0)); err != nil || !pipe {
		return 0, abi.EBADF
	}
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	fl, err := unix.FcntlInt(uintptr(f.FD()), unix.F_GETFL, 0)
	if err != nil {
		return 0, err
	}
	toGuest := fl&unix.O_ACCMODE == unix.O_RDONLY
	iovs, err := t.ioVecs(a.Addr(1), a[2], toGuest)
	if err != nil || len(iovs) == 0 {
		return 0, err
	}
	nowait := 0
	var waits []ioWait
	if flags&unix.SPLICE_F_NONBLOCK != 0 {
		nowait = unix.RWF_NOWAIT
	} else {
		waits = []ioWait{{f, ioEvents(toGuest, iovLen(iovs))}}
	}
	n, err := t.waitIO(func() (int, error) {
		if toGuest {
			return unix.Preadv2(f.FD(), iovs, -1, nowait)
		}
		return unix.Pwritev2(f.FD(), iovs, -1, nowait)
	}, waits...)
	if err != nil {
		if !toGuest {
			t.sigpipeOnEPIPE(err)
		}
		return 0, err
	}
	return uint64(n), nil
}
