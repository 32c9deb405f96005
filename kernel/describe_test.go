package kernel

import (
	"strings"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestSyscallClockReportsTheSyscallInProgressAndItsAge(t *testing.T) {
	tests := []struct {
		name   string
		nr     uint64
		wantNr int64
	}{
		{"read", unix.SYS_READ, unix.SYS_READ},
		{"wait4", unix.SYS_WAIT4, unix.SYS_WAIT4},
		{"highest table number", 1000, 1000},
		{"out of range number", 1 << 40, 1<<nrBits - 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c syscallClock
			if _, _, ok := c.current(); ok {
				t.Fatal("a fresh task reports a syscall")
			}
			c.enter(tc.nr)
			time.Sleep(3 * time.Millisecond)
			nr, d, ok := c.current()
			if !ok || nr != tc.wantNr {
				t.Errorf("current = %d, %v; want %d, true", nr, ok, tc.wantNr)
			}
			if d < 3*time.Millisecond || d > time.Minute {
				t.Errorf("age %v, want at least the 3ms slept", d)
			}
			c.leave()
			if _, _, ok := c.current(); ok {
				t.Error("still in a syscall after leave")
			}
		})
	}
}

func TestDescribeReportsThreadsSignalsAndDescriptors(t *testing.T) {
	p := &Process{Signals: NewSignalHandlers(), FDs: NewFDTable(), Exe: "/bin/x", Argv: []string{"x", "y"}}
	task := &Task{Proc: p, Tid: 5, SigMask: uint64(abi.SigSetOf(abi.SIGCHLD))}
	task.register()
	task.sys.enter(unix.SYS_NANOSLEEP)
	p.Signals.mu.Lock()
	p.Signals.shared.set = abi.SigSetOf(abi.SIGTERM)
	p.Signals.mu.Unlock()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	fd, err := p.FDs.Install(fds[0], true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.FDs.Close(fd)

	info := p.Describe()
	if info.Exe != "/bin/x" || strings.Join(info.Argv, " ") != "x y" || !strings.HasPrefix(info.Cwd, "/") {
		t.Errorf("image %q %q cwd %q", info.Exe, info.Argv, info.Cwd)
	}
	if info.Pending != abi.SigSetOf(abi.SIGTERM) {
		t.Errorf("pending %#x, want SIGTERM", info.Pending)
	}
	if len(info.Threads) != 1 {
		t.Fatalf("threads %+v, want one", info.Threads)
	}
	th := info.Threads[0]
	if th.Tid != 5 || th.Blocked != abi.SigSetOf(abi.SIGCHLD) || th.Syscall != unix.SYS_NANOSLEEP || th.SyscallName != "nanosleep" {
		t.Errorf("thread %+v", th)
	}
	var pipe *FDInfo
	for i := range info.FDs {
		if info.FDs[i].FD == fd {
			pipe = &info.FDs[i]
		}
	}
	if pipe == nil || !pipe.CloseOnExec || !strings.HasPrefix(pipe.Target, "pipe:[") {
		t.Errorf("descriptor %d described as %+v, want a close-on-exec pipe", fd, pipe)
	}
}

// BenchmarkSyscallClock is the hot-path cost the dump adds to every
// syscall: one monotonic clock read and two atomic stores.
func BenchmarkSyscallClock(b *testing.B) {
	var c syscallClock
	for i := 0; i < b.N; i++ {
		c.enter(unix.SYS_GETPPID)
		c.leave()
	}
}
