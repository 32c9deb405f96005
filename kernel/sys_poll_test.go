package kernel

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// putPollFDs writes a pollfd array and returns its address.
func putPollFDs(mem *fileTestMem, pfds ...abi.PollFD) abi.Addr {
	a := mem.alloc(len(pfds) * abi.SizeofPollFD)
	for i := range pfds {
		pfds[i].MarshalBytes(mem.bytesAt(a+abi.Addr(i*abi.SizeofPollFD), abi.SizeofPollFD))
	}
	return a
}

func getPollFDs(mem *fileTestMem, a abi.Addr, n int) []abi.PollFD {
	out := make([]abi.PollFD, n)
	for i := range out {
		out[i].UnmarshalBytes(mem.bytesAt(a+abi.Addr(i*abi.SizeofPollFD), abi.SizeofPollFD))
	}
	return out
}

func TestPollReportsReadiness(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	empty, _ := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_WRITE, w, uint64(mem.str("x")), 1)
	arr := putPollFDs(mem,
		abi.PollFD{FD: int32(r), Events: abi.POLLIN},
		abi.PollFD{FD: int32(w), Events: abi.POLLOUT},
		abi.PollFD{FD: int32(empty), Events: abi.POLLIN},
		abi.PollFD{FD: -1, Events: abi.POLLIN, Revents: 0x7},
		abi.PollFD{FD: 77, Events: abi.POLLIN},
	)
	n := mustSys(t, task, abi.SYS_POLL, uint64(arr), 5, 0)
	got := getPollFDs(mem, arr, 5)
	want := []int16{abi.POLLIN, abi.POLLOUT, 0, 0, abi.POLLNVAL}
	for i := range want {
		if got[i].Revents != want[i] {
			t.Errorf("pollfd %d (fd %d): revents %#x, want %#x", i, got[i].FD, got[i].Revents, want[i])
		}
	}
	if n != 3 {
		t.Errorf("poll = %d, want 3 (two ready, one invalid)", n)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_POLL, uint64(arr), uint64(DefaultNoFile)+1, 0)
	wantErrno(t, abi.EFAULT, task, abi.SYS_POLL, uint64(fileBadAddr), 1, 0)
}

func TestPollTimesOut(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, _ := guestPipe(t, task, mem, 0)
	arr := putPollFDs(mem, abi.PollFD{FD: int32(r), Events: abi.POLLIN})
	start := time.Now()
	if n := mustSys(t, task, abi.SYS_POLL, uint64(arr), 1, 30); n != 0 {
		t.Errorf("poll on an empty pipe = %d", n)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("poll returned after %v, before its 30ms timeout", el)
	}
}

func TestPpollWakesOnDataAndWritesRemainingTime(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	hw, _ := task.Proc.FDs.Get(int32(w))
	go func() {
		time.Sleep(20 * time.Millisecond)
		writeHost(hw, "late")
	}()
	arr := putPollFDs(mem, abi.PollFD{FD: int32(r), Events: abi.POLLIN})
	ts := mem.alloc(16)
	(&abi.Timespec{Sec: 10}).MarshalBytes(mem.bytesAt(ts, 16))
	mask := mem.alloc(8)
	if n := mustSys(t, task, abi.SYS_PPOLL, uint64(arr), 1, uint64(ts), uint64(mask), 8); n != 1 {
		t.Fatalf("ppoll = %d", n)
	}
	var left abi.Timespec
	left.UnmarshalBytes(mem.bytesAt(ts, 16))
	if left.Sec >= 10 || left.Sec < 5 {
		t.Errorf("remaining time %+v, want a little under 10s", left)
	}
	wantErrno(t, abi.EFAULT, task, abi.SYS_PPOLL, uint64(arr), 1, uint64(ts), uint64(fileBadAddr), 8)
	wantErrno(t, abi.EINVAL, task, abi.SYS_PPOLL, uint64(arr), 1, uint64(ts), uint64(mask), 16)
	(&abi.Timespec{Sec: 0, Nsec: 1e9}).MarshalBytes(mem.bytesAt(ts, 16))
	wantErrno(t, abi.EINVAL, task, abi.SYS_PPOLL, uint64(arr), 1, uint64(ts), 0, 8)
}

// fdSetAt writes an fd_set with the given guest fds (1024 bits).
func fdSetAt(mem *fileTestMem, fds ...uint64) abi.Addr {
	a := mem.alloc(128)
	clear(mem.bytesAt(a, 128))
	for _, fd := range fds {
		w := a + abi.Addr(fd/64*8)
		binary.LittleEndian.PutUint64(mem.bytesAt(w, 8), mem.u64(w)|1<<(fd%64))
	}
	return a
}

func fdSetHas(mem *fileTestMem, a abi.Addr, fd uint64) bool {
	return mem.u64(a+abi.Addr(fd/64*8))&(1<<(fd%64)) != 0
}

func TestSelectTranslatesGuestNumbers(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	// Guest numbers far from the host's.
	mustSys(t, task, abi.SYS_DUP2, r, 200)
	mustSys(t, task, abi.SYS_DUP2, w, 130)
	emptyR, _ := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_WRITE, w, uint64(mem.str("x")), 1)
	rs := fdSetAt(mem, 200, emptyR)
	ws := fdSetAt(mem, 130)
	es := fdSetAt(mem, 200)
	tv := mem.alloc(16)
	(&abi.Timeval{Sec: 1}).MarshalBytes(mem.bytesAt(tv, 16))
	n := mustSys(t, task, abi.SYS_SELECT, 201, uint64(rs), uint64(ws), uint64(es), uint64(tv))
	if n != 2 {
		t.Errorf("select = %d, want 2", n)
	}
	if !fdSetHas(mem, rs, 200) || fdSetHas(mem, rs, emptyR) {
		t.Errorf("read set wrong: 200=%v empty=%v", fdSetHas(mem, rs, 200), fdSetHas(mem, rs, emptyR))
	}
	if !fdSetHas(mem, ws, 130) || fdSetHas(mem, es, 200) {
		t.Errorf("write set 130=%v, except set 200=%v", fdSetHas(mem, ws, 130), fdSetHas(mem, es, 200))
	}
	bad := fdSetAt(mem, 150)
	wantErrno(t, abi.EBADF, task, abi.SYS_SELECT, 151, uint64(bad), 0, 0, uint64(tv))
	wantErrno(t, abi.EINVAL, task, abi.SYS_SELECT, ^uint64(0), 0, 0, 0, 0)
}

func TestSelectTimeoutWritesBackZero(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, _ := guestPipe(t, task, mem, 0)
	rs := fdSetAt(mem, r)
	tv := mem.alloc(16)
	(&abi.Timeval{Usec: 20000}).MarshalBytes(mem.bytesAt(tv, 16))
	if n := mustSys(t, task, abi.SYS_SELECT, r+1, uint64(rs), 0, 0, uint64(tv)); n != 0 {
		t.Errorf("select on an empty pipe = %d", n)
	}
	if fdSetHas(mem, rs, r) {
		t.Errorf("timed-out select left the fd in the set")
	}
	var left abi.Timeval
	left.UnmarshalBytes(mem.bytesAt(tv, 16))
	if left != (abi.Timeval{}) {
		t.Errorf("remaining %+v, want zero", left)
	}
}

func TestPselect6WithSigmask(t *testing.T) {
	task, mem := newFileTestTask(t)
	_, w := guestPipe(t, task, mem, 0)
	ws := fdSetAt(mem, w)
	ts := mem.alloc(16)
	(&abi.Timespec{Sec: 1}).MarshalBytes(mem.bytesAt(ts, 16))
	mask := mem.alloc(8)
	arg := mem.alloc(16)
	binary.LittleEndian.PutUint64(mem.bytesAt(arg, 8), uint64(mask))
	binary.LittleEndian.PutUint64(mem.bytesAt(arg+8, 8), 8)
	if n := mustSys(t, task, abi.SYS_PSELECT6, w+1, 0, uint64(ws), 0, uint64(ts), uint64(arg)); n != 1 {
		t.Errorf("pselect6 = %d", n)
	}
	binary.LittleEndian.PutUint64(mem.bytesAt(arg+8, 8), 4)
	wantErrno(t, abi.EINVAL, task, abi.SYS_PSELECT6, w+1, 0, uint64(ws), 0, uint64(ts), uint64(arg))
}

func TestEpollPassesEventDataThrough(t *testing.T) {
	task, mem := newFileTestTask(t)
	ep := mustSys(t, task, abi.SYS_EPOLL_CREATE1, abi.EPOLL_CLOEXEC)
	if v := mustSys(t, task, abi.SYS_FCNTL, ep, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("EPOLL_CLOEXEC not recorded")
	}
	r, w := guestPipe(t, task, mem, 0)
	ev := mem.alloc(abi.SizeofEpollEvent)
	const data = 0xdeadbeefcafef00d
	(&abi.EpollEvent{Events: abi.POLLIN, Data: data}).MarshalBytes(mem.bytesAt(ev, abi.SizeofEpollEvent))
	mustSys(t, task, abi.SYS_EPOLL_CTL, ep, abi.EPOLL_CTL_ADD, r, uint64(ev))
	wantErrno(t, abi.EEXIST, task, abi.SYS_EPOLL_CTL, ep, abi.EPOLL_CTL_ADD, r, uint64(ev))
	out := mem.alloc(4 * abi.SizeofEpollEvent)
	if n := mustSys(t, task, abi.SYS_EPOLL_WAIT, ep, uint64(out), 4, 0); n != 0 {
		t.Errorf("epoll_wait on an empty pipe = %d", n)
	}
	mustSys(t, task, abi.SYS_WRITE, w, uint64(mem.str("x")), 1)
	if n := mustSys(t, task, abi.SYS_EPOLL_PWAIT, ep, uint64(out), 4, 1000, 0, 8); n != 1 {
		t.Fatalf("epoll_pwait = %d", n)
	}
	// struct epoll_event is packed: data at offset 4, 12 bytes per event.
	if ev := mem.u32(out); ev != abi.POLLIN {
		t.Errorf("events = %#x", ev)
	}
	if d := mem.u64(out + 4); d != data {
		t.Errorf("data = %#x, want %#x", d, uint64(data))
	}
	mustSys(t, task, abi.SYS_EPOLL_CTL, ep, abi.EPOLL_CTL_DEL, r, 0)
	ts := mem.alloc(16)
	(&abi.Timespec{Nsec: 1e6}).MarshalBytes(mem.bytesAt(ts, 16))
	if n := mustSys(t, task, abi.SYS_EPOLL_PWAIT2, ep, uint64(out), 4, uint64(ts), 0, 8); n != 0 {
		t.Errorf("epoll_pwait2 after DEL = %d", n)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_EPOLL_WAIT, ep, uint64(out), 0, 0)
	wantErrno(t, abi.EFAULT, task, abi.SYS_EPOLL_WAIT, ep, uint64(fileBadAddr), 1, 0)
	wantErrno(t, abi.EBADF, task, abi.SYS_EPOLL_CTL, ep, abi.EPOLL_CTL_ADD, 99, uint64(ev))
	wantErrno(t, abi.EINVAL, task, abi.SYS_EPOLL_CREATE, 0)
	wantErrno(t, abi.EINVAL, task, abi.SYS_EPOLL_CREATE1, 1)
	mustSys(t, task, abi.SYS_EPOLL_CREATE, 1)
}

func TestEpollWaitBlocksUntilData(t *testing.T) {
	task, mem := newFileTestTask(t)
	ep := mustSys(t, task, abi.SYS_EPOLL_CREATE1, 0)
	r, w := guestPipe(t, task, mem, 0)
	ev := mem.alloc(abi.SizeofEpollEvent)
	(&abi.EpollEvent{Events: abi.POLLIN, Data: 7}).MarshalBytes(mem.bytesAt(ev, abi.SizeofEpollEvent))
	mustSys(t, task, abi.SYS_EPOLL_CTL, ep, abi.EPOLL_CTL_ADD, r, uint64(ev))
	hw, _ := task.Proc.FDs.Get(int32(w))
	go func() {
		time.Sleep(20 * time.Millisecond)
		writeHost(hw, "y")
	}()
	out := mem.alloc(abi.SizeofEpollEvent)
	if n := mustSys(t, task, abi.SYS_EPOLL_WAIT, ep, uint64(out), 1, fdArg(-1)); n != 1 || mem.u64(out+4) != 7 {
		t.Errorf("epoll_wait = %d, data %d", n, mem.u64(out+4))
	}
}

func TestPollAndSelectWithNoDescriptorsSleep(t *testing.T) {
	task, mem := newFileTestTask(t)
	tv := mem.alloc(16)
	(&abi.Timeval{Usec: 10000}).MarshalBytes(mem.bytesAt(tv, 16))
	tests := []struct {
		name string
		nr   uint64
		args []uint64
	}{
		{"poll(NULL, 0, 10)", abi.SYS_POLL, []uint64{0, 0, 10}},
		{"select(0, NULL, NULL, NULL, 10ms)", abi.SYS_SELECT, []uint64{0, 0, 0, 0, uint64(tv)}},
		{"select(0, unmapped sets, 10ms)", abi.SYS_SELECT, []uint64{0, uint64(fileBadAddr), uint64(fileBadAddr), 0, uint64(tv)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			(&abi.Timeval{Usec: 10000}).MarshalBytes(mem.bytesAt(tv, 16))
			start := time.Now()
			if n := mustSys(t, task, tc.nr, tc.args...); n != 0 {
				t.Errorf("= %d, want 0", n)
			}
			if el := time.Since(start); el < 10*time.Millisecond {
				t.Errorf("returned after %v, before the 10ms timeout", el)
			}
		})
	}
}
