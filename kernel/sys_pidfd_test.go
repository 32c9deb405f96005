package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// pidfdTestHost is a tree whose pidfds are plain eventfds: processes 100
// and 101 are incarnation 5, 103 is incarnation 6, already reaped (its
// kills are ESRCH); pidfd kills are recorded.
type pidfdTestHost struct {
	*treeTestHost
	killed []int32 // signal numbers PidfdKill passed on
}

func (h *pidfdTestHost) PidfdOpen(pid int32) (int, uint64, error) {
	gen := uint64(5)
	switch pid {
	case 100, 101:
	case 103:
		gen = 6
	default:
		return -1, 0, abi.ESRCH
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	return fd, gen, err
}

func (h *pidfdTestHost) PidfdKill(pid int32, gen uint64, info *abi.Siginfo) (bool, error) {
	if gen != 5 {
		return false, abi.ESRCH
	}
	h.killed = append(h.killed, info.Signo)
	return pid == 100, nil
}

func newPidfdTestEnv(t *testing.T) (*sigTestEnv, *pidfdTestHost) {
	e, th := newTreeTestEnv(t)
	e.t.Proc.FDs = NewFDTable()
	h := &pidfdTestHost{treeTestHost: th}
	e.t.Proc.Kernel.Host = h
	return e, h
}

func TestPidfdOpenChecksItsArguments(t *testing.T) {
	tests := []struct {
		name       string
		pid, flags uint64
		want       uint64
	}{
		{"unknown flag", 101, 1, errno(abi.EINVAL)},
		{"pid 0", 0, 0, errno(abi.EINVAL)},
		{"negative pid", uint64(^uint32(0)), 0, errno(abi.EINVAL)},
		{"no such process", 102, 0, errno(abi.ESRCH)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newPidfdTestEnv(t)
			if rax := e.syscall(abi.SYS_PIDFD_OPEN, tc.pid, tc.flags); rax != tc.want {
				t.Fatalf("pidfd_open = %d, want %d", int64(rax), int64(tc.want))
			}
		})
	}
}

func TestPidfdWithoutATreeIsENOSYS(t *testing.T) {
	e := newSigTestEnv(t)
	if rax := e.syscall(abi.SYS_PIDFD_OPEN, 100, 0); rax != errno(abi.ENOSYS) {
		t.Fatalf("pidfd_open = %d, want ENOSYS", int64(rax))
	}
}

func TestPidfdIsCloseOnExecUnreadableAndNonblockOnRequest(t *testing.T) {
	e, _ := newPidfdTestEnv(t)
	fd := e.syscall(abi.SYS_PIDFD_OPEN, 101, unix.O_NONBLOCK)
	if int64(fd) < 0 {
		t.Fatalf("pidfd_open = %d", int64(fd))
	}
	if cloexec, err := e.t.Proc.FDs.GetCloexec(int32(fd)); err != nil || !cloexec {
		t.Fatalf("close-on-exec %v, %v", cloexec, err)
	}
	if rax := e.syscall(abi.SYS_READ, fd, uint64(testScratch), 8); rax != errno(abi.EINVAL) {
		t.Fatalf("read = %d, want EINVAL", int64(rax))
	}
	if rax := e.syscall(abi.SYS_WRITE, fd, uint64(testScratch), 8); rax != errno(abi.EINVAL) {
		t.Fatalf("write = %d, want EINVAL", int64(rax))
	}
	if rax := e.syscall(abi.SYS_FCNTL, fd, unix.F_GETFL); rax&unix.O_NONBLOCK == 0 {
		t.Fatalf("F_GETFL = %#x, want O_NONBLOCK", rax)
	}
}

func TestPidfdSendSignal(t *testing.T) {
	tests := []struct {
		name   string
		pid    uint64 // the pidfd's process (0: a pipe instead)
		sig    uint64
		flags  uint64
		want   uint64
		sent   bool
		queued bool
	}{
		{"to another process", 101, abi.SIGTERM, 0, 0, true, false},
		{"probe", 101, 0, 0, 0, true, false},
		{"to itself is queued here", 100, abi.SIGUSR1, 0, 0, true, true},
		{"unknown flag", 101, abi.SIGTERM, 8, errno(abi.EINVAL), false, false},
		{"process group flag", 101, abi.SIGTERM, 4, errno(abi.EINVAL), false, false},
		{"bad signal", 101, 65, 0, errno(abi.EINVAL), false, false},
		{"not a pidfd", 0, abi.SIGTERM, 0, errno(abi.EBADF), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newPidfdTestEnv(t)
			// Blocked, so a signal queued here stays pending where we can see it.
			e.t.SigMask = uint64(abi.SigSetOf(abi.SIGUSR1))
			var fd uint64
			if tc.pid != 0 {
				fd = e.syscall(abi.SYS_PIDFD_OPEN, tc.pid, 0)
			} else {
				var p [2]int
				if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
					t.Fatal(err)
				}
				unix.Close(p[1])
				g, err := e.t.Proc.FDs.Install(p[0], false, 0)
				if err != nil {
					t.Fatal(err)
				}
				fd = uint64(g)
			}
			if rax := e.syscall(abi.SYS_PIDFD_SEND_SIGNAL, fd, tc.sig, 0, tc.flags); rax != tc.want {
				t.Fatalf("pidfd_send_signal = %d, want %d", int64(rax), int64(tc.want))
			}
			if sent := len(h.killed) == 1; sent != tc.sent {
				t.Fatalf("sent through the tree: %v (%v), want %v", sent, h.killed, tc.sent)
			}
			if queued := e.t.PendingSignals().Has(abi.SIGUSR1); queued != tc.queued {
				t.Fatalf("queued here: %v, want %v", queued, tc.queued)
			}
		})
	}
}

func TestWaitidPidfdNeedsTheIncarnationAlive(t *testing.T) {
	tests := []struct {
		name string
		pid  uint64
		want uint64
	}{
		{"a child without news", 101, 0},
		{"a reaped child", 103, errno(abi.ECHILD)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newPidfdTestEnv(t)
			fd := e.syscall(abi.SYS_PIDFD_OPEN, tc.pid, 0)
			if rax := e.syscall(abi.SYS_WAITID, abi.P_PIDFD, fd, 0, abi.WEXITED|abi.WNOHANG, 0); rax != tc.want {
				t.Fatalf("waitid = %d, want %d", int64(rax), int64(tc.want))
			}
		})
	}
}
