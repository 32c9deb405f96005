package kernel

import (
	"encoding/binary"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Readiness: poll, ppoll, select and pselect6 all run on the host's ppoll
// over the host descriptors behind the guest's (select's fd_sets index
// guest numbers, which the host's select could not take). The wait itself
// is waitPoll (fd_wait.go).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_POLL: {Name: "poll", Fn: Poll},
		abi.SYS_PPOLL: {Name: "ppoll", Fn: Ppoll, Support: Partial,
			Note: "the sigmask is installed for the wait, but guest signals cannot interrupt host waits yet"},
		abi.SYS_SELECT: {Name: "select", Fn: Select},
		abi.SYS_PSELECT6: {Name: "pselect6", Fn: Pselect6, Support: Partial,
			Note: "the sigmask is installed for the wait, but guest signals cannot interrupt host waits yet"},
	})
}

// sigsetSize is the only sigsetsize Linux accepts on x86-64.
const sigsetSize = 8

// withSigmask runs wait with the guest sigset_t at addr (NULL: no change)
// installed as the task's mask, as ppoll, pselect6 and epoll_pwait do. An
// interrupted wait leaves the old mask to be restored after the signal
// handler runs, as Linux's restore_saved_sigmask_unless does.
func (t *Task) withSigmask(addr abi.Addr, size uint64, wait func() (uint64, error)) (uint64, error) {
	if addr == 0 {
		return wait()
	}
	if size != sigsetSize {
		return 0, abi.EINVAL
	}
	var b [sigsetSize]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	t.SetTemporarySigMask(abi.SigSet(binary.LittleEndian.Uint64(b[:])))
	n, err := wait()
	t.RestoreTemporarySigMask(isInterruption(err))
	return n, err
}

// isInterruption reports whether a syscall result means a signal
// interrupted it.
func isInterruption(err error) bool {
	switch err {
	case abi.EINTR, abi.ERESTARTSYS, abi.ERESTARTNOHAND, abi.ERESTARTNOINTR, abi.ERESTART_BLOCK:
		return true
	}
	return false
}

// copyInAll reads len(b) bytes at addr; an empty transfer touches nothing,
// as on Linux (poll(NULL, 0, ms) and select(0, ...) are common sleeps).
func (t *Task) copyInAll(addr abi.Addr, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := t.CopyIn(addr, b)
	return err
}

// copyOutAll writes b at addr; an empty transfer touches nothing.
func (t *Task) copyOutAll(addr abi.Addr, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := t.CopyOut(addr, b)
	return err
}

// pollFDs holds the host side of a poll over guest descriptors.
type pollFDs struct {
	host  []unix.PollFd
	files []*HostFile // nil where the guest fd is negative or not open
}

func (p *pollFDs) release() {
	for _, f := range p.files {
		if f != nil {
			f.Release()
		}
	}
}

// acquirePoll translates guest pollfds to host ones. A guest descriptor
// that is not open is reported POLLNVAL without reaching the host; a
// negative one is ignored, as on Linux. It returns how many are invalid.
func (t *Task) acquirePoll(pfds []abi.PollFD) (*pollFDs, int) {
	p := &pollFDs{host: make([]unix.PollFd, len(pfds)), files: make([]*HostFile, len(pfds))}
	invalid := 0
	for i, pfd := range pfds {
		p.host[i] = unix.PollFd{Fd: -1}
		if pfd.FD < 0 {
			continue
		}
		f, err := t.Proc.FDs.Acquire(pfd.FD)
		if err != nil {
			invalid++
			continue
		}
		p.files[i] = f
		// POLLERR, POLLHUP and POLLNVAL are always reported.
		p.host[i] = unix.PollFd{Fd: int32(f.FD()), Events: pfd.Events}
	}
	return p, invalid
}

// pollGuest is the core of poll and ppoll: it waits until one of pfds is
// ready or dl passes, fills Revents and returns the number ready.
func (t *Task) pollGuest(pfds []abi.PollFD, dl deadline) (int, error) {
	p, invalid := t.acquirePoll(pfds)
	defer p.release()
	if invalid > 0 {
		dl = deadline{} // already ready: just collect the others
	}
	if _, err := t.waitPoll(p.host, dl); err != nil {
		return 0, err
	}
	ready := 0
	for i := range pfds {
		switch {
		case pfds[i].FD < 0:
			pfds[i].Revents = 0
		case p.files[i] == nil:
			pfds[i].Revents = abi.POLLNVAL
		default:
			pfds[i].Revents = p.host[i].Revents
		}
		if pfds[i].Revents != 0 {
			ready++
		}
	}
	return ready, nil
}

// pollCopy reads the guest pollfd array, polls and writes the revents
// back.
func (t *Task) pollCopy(addr abi.Addr, nfds uint64, dl deadline) (uint64, error) {
	if nfds > uint64(t.Proc.FDs.Limit()) {
		return 0, abi.EINVAL
	}
	raw := make([]byte, nfds*abi.SizeofPollFD)
	if err := t.copyInAll(addr, raw); err != nil {
		return 0, err
	}
	pfds := make([]abi.PollFD, nfds)
	for i := range pfds {
		pfds[i].UnmarshalBytes(raw[i*abi.SizeofPollFD:])
	}
	n, err := t.pollGuest(pfds, dl)
	if err != nil {
		return 0, err
	}
	for i := range pfds {
		pfds[i].MarshalBytes(raw[i*abi.SizeofPollFD:])
	}
	if err := t.copyOutAll(addr, raw); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// Poll implements Linux syscall poll(2). An interrupted poll restarts when
// no handler runs (ERESTARTNOHAND).
func Poll(t *Task, a *Args) (uint64, error) {
	n, err := t.pollCopy(a.Addr(0), a[1], msDeadline(a.Int(2)))
	if err == abi.EINTR {
		return 0, abi.ERESTARTNOHAND
	}
	return n, err
}

// copyInPollDeadline reads an optional timespec timeout (NULL: forever).
func (t *Task) copyInPollDeadline(addr abi.Addr) (deadline, error) {
	if addr == 0 {
		return deadline{forever: true}, nil
	}
	var b [abi.SizeofTimespec]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return deadline{}, err
	}
	var ts abi.Timespec
	ts.UnmarshalBytes(b[:])
	if !ts.Valid() {
		return deadline{}, abi.EINVAL
	}
	return deadlineAfter(time.Duration(min(ts.Sec, 1<<33))*time.Second + time.Duration(ts.Nsec)), nil
}

// copyOutRemaining writes the time left until dl back to a timespec, as
// ppoll and pselect6 do.
func (t *Task) copyOutRemaining(addr abi.Addr, dl deadline) error {
	if addr == 0 || dl.forever {
		return nil
	}
	rem := dl.remaining()
	ts := abi.Timespec{Sec: int64(rem / time.Second), Nsec: int64(rem % time.Second)}
	var b [abi.SizeofTimespec]byte
	ts.MarshalBytes(b[:])
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Ppoll implements Linux syscall ppoll(2).
func Ppoll(t *Task, a *Args) (uint64, error) {
	dl, err := t.copyInPollDeadline(a.Addr(2))
	if err != nil {
		return 0, err
	}
	return t.withSigmask(a.Addr(3), a[4], func() (uint64, error) {
		n, err := t.pollCopy(a.Addr(0), a[1], dl)
		if err == abi.EINTR {
			err = abi.ERESTARTNOHAND
		}
		if cerr := t.copyOutRemaining(a.Addr(2), dl); err == nil && cerr != nil {
			return 0, cerr
		}
		return n, err
	})
}

// fdSet is select's bitmap of guest descriptors.
type fdSet []uint64

func (s fdSet) has(fd int) bool { return s != nil && s[fd/64]&(1<<(fd%64)) != 0 }
func (s fdSet) set(fd int)      { s[fd/64] |= 1 << (fd % 64) }

// copyInFdSet reads nfds bits at addr (NULL: nil set).
func (t *Task) copyInFdSet(addr abi.Addr, nfds int) (fdSet, []byte, error) {
	if addr == 0 {
		return nil, nil, nil
	}
	raw := make([]byte, (nfds+63)/64*8)
	if err := t.copyInAll(addr, raw); err != nil {
		return nil, nil, err
	}
	s := make(fdSet, len(raw)/8)
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(raw[i*8:])
	}
	return s, raw, nil
}

// Readiness classes of select, as Linux's POLLIN_SET, POLLOUT_SET and
// POLLEX_SET.
const (
	selectIn  = abi.POLLRDNORM | abi.POLLRDBAND | abi.POLLIN | abi.POLLHUP | abi.POLLERR
	selectOut = abi.POLLWRBAND | abi.POLLWRNORM | abi.POLLOUT | abi.POLLERR
	selectEx  = abi.POLLPRI
)

// selectGuest is the core of select and pselect6.
func (t *Task) selectGuest(nfds int32, rAddr, wAddr, eAddr abi.Addr, dl deadline) (uint64, error) {
	if nfds < 0 {
		return 0, abi.EINVAL
	}
	n := int(min(nfds, max(t.Proc.FDs.Limit(), abi.FD_SETSIZE)))
	var sets [3]fdSet
	var raws [3][]byte
	for i, addr := range []abi.Addr{rAddr, wAddr, eAddr} {
		var err error
		if sets[i], raws[i], err = t.copyInFdSet(addr, n); err != nil {
			return 0, err
		}
	}
	var pfds []abi.PollFD
	var guest []int
	for fd := range n {
		var ev int16
		if sets[0].has(fd) {
			ev |= abi.POLLIN | abi.POLLRDNORM | abi.POLLRDBAND
		}
		if sets[1].has(fd) {
			ev |= abi.POLLOUT | abi.POLLWRNORM | abi.POLLWRBAND
		}
		if sets[2].has(fd) {
			ev |= abi.POLLPRI
		}
		if ev == 0 {
			continue
		}
		pfds = append(pfds, abi.PollFD{FD: int32(fd), Events: ev})
		guest = append(guest, fd)
	}
	p, invalid := t.acquirePoll(pfds)
	defer p.release()
	if invalid > 0 {
		return 0, abi.EBADF
	}
	if _, err := t.waitPoll(p.host, dl); err != nil {
		if err == abi.EINTR {
			return 0, abi.ERESTARTNOHAND
		}
		return 0, err
	}
	var out [3]fdSet
	for i := range out {
		if sets[i] != nil {
			out[i] = make(fdSet, len(sets[i]))
		}
	}
	ready := uint64(0)
	for i, fd := range guest {
		rev := p.host[i].Revents
		for k, class := range []int16{selectIn, selectOut, selectEx} {
			if sets[k].has(fd) && rev&class != 0 {
				out[k].set(fd)
				ready++
			}
		}
	}
	for i, addr := range []abi.Addr{rAddr, wAddr, eAddr} {
		if addr == 0 {
			continue
		}
		for w, v := range out[i] {
			binary.LittleEndian.PutUint64(raws[i][w*8:], v)
		}
		if err := t.copyOutAll(addr, raws[i]); err != nil {
			return 0, err
		}
	}
	return ready, nil
}

// Select implements Linux syscall select(2); like Linux it writes the time
// left back to the timeval.
func Select(t *Task, a *Args) (uint64, error) {
	dl := deadline{forever: true}
	tvAddr := a.Addr(4)
	if tvAddr != 0 {
		var b [abi.SizeofTimeval]byte
		if _, err := t.CopyIn(tvAddr, b[:]); err != nil {
			return 0, err
		}
		var tv abi.Timeval
		tv.UnmarshalBytes(b[:])
		if tv.Sec < 0 || tv.Usec < 0 {
			return 0, abi.EINVAL
		}
		// Linux normalises tv_usec >= 1e6 by carrying into seconds.
		d := time.Duration(min(tv.Sec+tv.Usec/1e6, 1<<33))*time.Second + time.Duration(tv.Usec%1e6)*time.Microsecond
		dl = deadlineAfter(d)
	}
	n, err := t.selectGuest(a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), dl)
	if tvAddr != 0 && (err == nil || err == abi.ERESTARTNOHAND) {
		rem := dl.remaining()
		tv := abi.Timeval{Sec: int64(rem / time.Second), Usec: int64(rem%time.Second) / 1000}
		var b [abi.SizeofTimeval]byte
		tv.MarshalBytes(b[:])
		if _, cerr := t.CopyOut(tvAddr, b[:]); cerr != nil && err == nil {
			return 0, cerr
		}
	}
	return n, err
}

// Pselect6 implements Linux syscall pselect6(2). Its sixth argument points
// to { const sigset_t *ss; size_t ss_len; }.
func Pselect6(t *Task, a *Args) (uint64, error) {
	dl, err := t.copyInPollDeadline(a.Addr(4))
	if err != nil {
		return 0, err
	}
	var maskAddr abi.Addr
	var maskSize uint64
	if a.Addr(5) != 0 {
		var b [16]byte
		if _, err := t.CopyIn(a.Addr(5), b[:]); err != nil {
			return 0, err
		}
		maskAddr = abi.Addr(binary.LittleEndian.Uint64(b[0:]))
		maskSize = binary.LittleEndian.Uint64(b[8:])
	}
	return t.withSigmask(maskAddr, maskSize, func() (uint64, error) {
		n, err := t.selectGuest(a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), dl)
		if err == nil || err == abi.ERESTARTNOHAND {
			if cerr := t.copyOutRemaining(a.Addr(4), dl); cerr != nil && err == nil {
				return 0, cerr
			}
		}
		return n, err
	})
}
