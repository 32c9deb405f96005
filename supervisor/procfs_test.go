package supervisor

import (
	"slices"
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// procTestTree is a supervisor with pid 1 and its child pid 2 (host pid
// 4242); target, when given, plays pid 2's guestproc: it gets each query
// forwarded to pid 2 and does what it likes with the supervisor.
func procTestTree(t *testing.T, target func(s *supervisor, q ipc.ProcQuery)) *supervisor {
	t.Helper()
	s := newSupervisor(Config{MaxProcs: 8}, hclog.NewNullLogger())
	s.tree.NewInit("/bin/sh", []string{"sh"}, Leads{Group: true, Session: true})
	pid, err := s.tree.Fork(1, abi.SIGCHLD)
	if err != nil || pid != 2 {
		t.Fatalf("fork = %d, %v", pid, err)
	}
	s.tree.SetHostPid(2, 4242)
	if target == nil {
		return s
	}
	mine, theirs, err := ipc.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		// Wake the reader before closing: a descriptor number closed
		// under a blocked recvmsg could be reused by the next test.
		unix.Shutdown(theirs.FD(), unix.SHUT_RDWR)
		<-done
		mine.Close()
		theirs.Close()
	})
	s.mu.Lock()
	s.gps[2] = &guestproc{guestprocHandle: &guestprocHandle{pid: 2, conn: mine}}
	s.mu.Unlock()
	go func() {
		defer close(done)
		for {
			var q ipc.ProcQuery
			if _, _, err := theirs.Recv(&q); err != nil {
				return
			}
			target(s, q)
		}
	}()
	return s
}

func TestProcListIsTheTree(t *testing.T) {
	s := procTestTree(t, nil)
	s.tree.Exit(2, 0, abi.Rusage{})
	a := s.procAnswer(1, ipc.ProcQuery{List: true})
	if !slices.Equal(a.Pids, []int32{1, 2}) {
		t.Errorf("pids = %v, want 1 and the zombie 2", a.Pids)
	}
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 9, Rel: "status"}); a.Errno != int32(abi.ESRCH) {
		t.Errorf("unknown pid: %+v, want ESRCH", a)
	}
}

func TestProcQueryIsForwardedToTheTarget(t *testing.T) {
	s := procTestTree(t, func(s *supervisor, q ipc.ProcQuery) {
		s.procAnswered(2, ipc.ProcAnswer{ID: q.ID, Data: []byte("rendered " + q.Rel)})
	})
	a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "status"})
	if string(a.Data) != "rendered status" || a.Tree != nil {
		t.Errorf("answer = %+v, want the target's rendering", a)
	}
}

func TestProcAnswerFromAnotherPidIsIgnored(t *testing.T) {
	s := procTestTree(t, func(s *supervisor, q ipc.ProcQuery) {
		s.procAnswered(1, ipc.ProcAnswer{ID: q.ID, Data: []byte("forged")})
		s.procGone(2)
	})
	a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "cmdline"})
	if a.Tree == nil || string(a.Data) == "forged" {
		t.Errorf("answer = %+v, want the tree's record", a)
	}
}

func TestProcTargetEndingMidQueryGetsTheTreeAnswer(t *testing.T) {
	s := procTestTree(t, func(s *supervisor, q ipc.ProcQuery) {
		s.procCommOf(2, ipc.ProcComm{Comm: "worker"})
		s.tree.Exit(2, 0, abi.Rusage{})
		s.procGone(2)
	})
	a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "status"})
	if a.Tree == nil || a.Tree.State != 'Z' || a.Tree.Comm != "worker" || a.Tree.Ppid != 1 {
		t.Errorf("answer = %+v (tree %+v), want the zombie's record named worker", a, a.Tree)
	}
}

func TestProcStoppedAndStartingTargetsGetTheTreeAnswer(t *testing.T) {
	s := procTestTree(t, func(s *supervisor, q ipc.ProcQuery) {
		s.procAnswered(2, ipc.ProcAnswer{ID: q.ID, Errno: int32(abi.ESRCH)})
	})
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "status"}); a.Tree == nil || a.Tree.State != 'S' {
		t.Errorf("starting target: %+v, want the tree's record", a)
	}
	s.tree.Stopped(2, abi.SIGSTOP)
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "status"}); a.Tree == nil || a.Tree.State != 'T' {
		t.Errorf("stopped target: %+v, want state T from the tree", a)
	}
}
