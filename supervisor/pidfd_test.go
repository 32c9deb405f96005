package supervisor

import (
	"errors"
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// readable polls fd without waiting.
func readable(t *testing.T, fd int) bool {
	t.Helper()
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1 && p[0].Revents&unix.POLLIN != 0
}

func openPidfd(t *testing.T, s *supervisor, pid int32) (uint64, int) {
	t.Helper()
	gen, fd, err := s.pidfdOpen(pid)
	if err != nil {
		t.Fatalf("pidfdOpen(%d): %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return gen, fd
}

func probe(s *supervisor, pid int32, gen uint64) error {
	_, err := s.pidfdKill(1, &ipc.Request{Pid: pid, Seq: gen})
	return err
}

func TestPidfdBecomesReadableAtExitAndSurvivesTheReap(t *testing.T) {
	s := procTestTree(t, nil)
	gen, fd := openPidfd(t, s, 2)
	if readable(t, fd) {
		t.Fatal("pidfd of a running process is readable")
	}
	if err := probe(s, 2, gen); err != nil {
		t.Fatalf("signal 0 to a running process: %v", err)
	}
	s.tree.Exit(2, 0, abi.Rusage{})
	s.pidfdExited(2)
	if !readable(t, fd) {
		t.Fatal("pidfd not readable after the exit")
	}
	if err := probe(s, 2, gen); err != nil {
		t.Fatalf("signal 0 to a zombie: %v", err)
	}
	// A second pidfd of the zombie names the same incarnation, ready at once.
	gen2, fd2 := openPidfd(t, s, 2)
	if gen2 != gen || !readable(t, fd2) {
		t.Fatalf("pidfd of the zombie: gen %d (want %d), readable %v", gen2, gen, readable(t, fd2))
	}
	s.tree.Reap(1, 2)
	if err := probe(s, 2, gen); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("signal 0 after the reap = %v, want ESRCH", err)
	}
	if _, _, err := s.pidfdOpen(2); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("pidfdOpen of a reaped pid = %v, want ESRCH", err)
	}
	if !readable(t, fd) {
		t.Fatal("pidfd stopped being readable at the reap")
	}
}

func TestPidfdNeverReachesAProcessReusingThePid(t *testing.T) {
	s := procTestTree(t, nil)
	gen, _ := openPidfd(t, s, 2)
	s.tree.Exit(2, 0, abi.Rusage{})
	s.pidfdExited(2)
	s.tree.Reap(1, 2)
	// Force the pid's reuse, as a wrap of the pid space would.
	s.tree.mu.Lock()
	s.tree.last = 1
	s.tree.mu.Unlock()
	pid, err := s.tree.Fork(1, abi.SIGCHLD)
	if err != nil || pid != 2 {
		t.Fatalf("fork = %d, %v; want pid 2 again", pid, err)
	}
	s.pidfdBorn(pid) // as supervisor.fork does
	if err := probe(s, 2, gen); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("old pidfd reaches the new pid 2: %v, want ESRCH", err)
	}
	gen2, fd2 := openPidfd(t, s, 2)
	if gen2 == gen {
		t.Fatalf("the new process got the old incarnation %d", gen)
	}
	if readable(t, fd2) {
		t.Fatal("pidfd of the new, running process is readable")
	}
	if err := probe(s, 2, gen2); err != nil {
		t.Fatalf("signal 0 through the new pidfd: %v", err)
	}
}

func TestPidfdOpenOfAnUnknownPidIsESRCH(t *testing.T) {
	s := procTestTree(t, nil)
	if _, _, err := s.pidfdOpen(99); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("pidfdOpen(99) = %v, want ESRCH", err)
	}
	if err := probe(s, 99, 1); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("pidfdKill of an unknown pid = %v, want ESRCH", err)
	}
}
