package supervisor

// The supervisor's part of /proc of other guest processes (the protocol is
// in ipc/procfs.go): pid lists from the tree, per-file questions forwarded
// to the target guestproc, and the tree's own answer for a process that
// cannot speak for itself.

import (
	"sync"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// procTimeout bounds the wait for a target's answer: a busy or dying
// target must not hang the reader, which then gets the tree's answer.
const procTimeout = 2 * time.Second

// procWaiters routes targets' ProcAnswers to the queries waiting for them.
type procWaiters struct {
	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]*procWaiter
}

type procWaiter struct {
	pid int32
	ch  chan ipc.ProcAnswer
	// gone is closed when the target's control socket closes.
	gone chan struct{}
}

// procs returns the supervisor's waiters, their map made on first use.
func (s *supervisor) procs() *procWaiters {
	w := &s.procWaiters
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[uint64]*procWaiter{}
	}
	w.mu.Unlock()
	return w
}

// procQuery answers guestproc g's ProcQuery. It runs on its own goroutine:
// the answer may take a round trip to another guestproc, and g's reader
// loop must go on meanwhile (two processes reading each other's /proc
// would otherwise wait on each other).
func (s *supervisor) procQuery(g *guestproc, q ipc.ProcQuery) {
	ans := s.procAnswer(g.pid, q)
	ans.ID = q.ID
	if err := g.send(ipc.MsgProcAnswer, ans); err != nil {
		s.log.Debug("proc answer not delivered", "pid", g.pid, "error", err)
	}
}

// procAnswer computes the answer to q from process from.
func (s *supervisor) procAnswer(from int32, q ipc.ProcQuery) ipc.ProcAnswer {
	if q.List {
		var pids []int32
		for _, p := range s.tree.Snapshot() {
			pids = append(pids, p.Pid)
		}
		return ipc.ProcAnswer{Pids: pids}
	}
	p, ok := s.tree.Get(q.Pid)
	if !ok {
		return ipc.ProcAnswer{Errno: int32(abi.ESRCH)}
	}
	if q.Prlimit != nil {
		// Only the process itself can: its kernel holds the limits.
		if p.State == Running && q.Pid != from {
			if ans, ok := s.procAskBuilt(q, p); ok {
				return ans
			}
		}
		return ipc.ProcAnswer{Errno: int32(abi.ESRCH)}
	}
	if p.State == Running && q.Pid != from && !q.Record {
		if ans, ok := s.procAskBuilt(q, p); ok {
			return ans
		}
		// It did not answer: it may have just ended.
		if p, ok = s.tree.Get(q.Pid); !ok {
			return ipc.ProcAnswer{Errno: int32(abi.ESRCH)}
		}
	}
	if p.State == Stopped && !q.Record {
		if ans, ok := s.snapshotAnswer(p.Pid, q.Rel); ok { // procfs_snapshot.go
			return ans
		}
	}
	return ipc.ProcAnswer{Tree: s.procRecord(p)}
}

// procRecord is the tree's record of p as /proc shows it.
func (s *supervisor) procRecord(p Proc) *ipc.ProcTree {
	t := &ipc.ProcTree{Pid: p.Pid, Ppid: p.Ppid, Pgid: visible(p.Pgid), Sid: visible(p.Sid),
		Exe: p.Exe, Argv: append([]string(nil), p.Argv...)}
	switch p.State {
	case Zombie:
		t.State = 'Z'
		t.Comm = p.Comm
	case Stopped:
		t.State = 'T'
		t.Comm = p.Comm
	default:
		t.State = 'S'
	}
	return t
}

// procBuildPoll is how often procAskBuilt asks again a target whose
// process is not built yet.
const procBuildPoll = 2 * time.Millisecond

// procAskBuilt asks p's guestproc (procAsk). ESRCH from it says its
// process is not built yet (a fork child starting): natively a child has
// its /proc, descriptors included, as soon as fork returns, so the
// question is asked again until the process answers, for up to
// procTimeout; ok=false leaves the answer to the tree.
func (s *supervisor) procAskBuilt(q ipc.ProcQuery, p Proc) (ipc.ProcAnswer, bool) {
	deadline := time.Now().Add(procTimeout)
	for {
		ans, ok := s.procAsk(q, s.procRecord(p))
		if !ok {
			return ans, false
		}
		if ans.Errno != int32(abi.ESRCH) {
			return ans, true
		}
		if time.Now().After(deadline) {
			return ans, false
		}
		time.Sleep(procBuildPoll)
		if p, ok = s.tree.Get(q.Pid); !ok || p.State != Running {
			return ans, false
		}
	}
}

// procAsk forwards q to its target guestproc, with the tree's record rec
// of it, and waits for the answer; ok=false when it is gone or silent.
func (s *supervisor) procAsk(q ipc.ProcQuery, rec *ipc.ProcTree) (ipc.ProcAnswer, bool) {
	s.mu.Lock()
	g := s.gps[q.Pid]
	s.mu.Unlock()
	if g == nil {
		return ipc.ProcAnswer{}, false
	}
	w := s.procs()
	pw := &procWaiter{pid: q.Pid, ch: make(chan ipc.ProcAnswer, 1), gone: make(chan struct{})}
	w.mu.Lock()
	w.nextID++
	id := w.nextID
	w.waiting[id] = pw
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiting, id)
		w.mu.Unlock()
	}()
	if err := g.send(ipc.MsgProcQuery, ipc.ProcQuery{ID: id, Pid: q.Pid, Rel: q.Rel, Tree: rec, Prlimit: q.Prlimit,
		Snapshot: q.Snapshot}); err != nil {
		return ipc.ProcAnswer{}, false
	}
	t := time.NewTimer(procTimeout)
	defer t.Stop()
	select {
	case ans := <-pw.ch:
		return ans, true
	case <-pw.gone:
	case <-t.C:
		s.log.Debug("no proc answer", "pid", q.Pid, "rel", q.Rel)
	}
	return ipc.ProcAnswer{}, false
}

// procAnswered hands a target's answer to its waiting query.
func (s *supervisor) procAnswered(from int32, ans ipc.ProcAnswer) {
	w := s.procs()
	w.mu.Lock()
	pw := w.waiting[ans.ID]
	if pw != nil && pw.pid == from {
		delete(w.waiting, ans.ID)
	} else {
		pw = nil
	}
	w.mu.Unlock()
	if pw != nil {
		pw.ch <- ans
	}
}

// procGone releases the queries waiting on pid, whose guestproc ended.
func (s *supervisor) procGone(pid int32) {
	s.dropSnapshot(pid)
	w := s.procs()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, pw := range w.waiting {
		if pw.pid == pid {
			close(pw.gone)
			delete(w.waiting, id)
		}
	}
}

// procCommOf records the comm of process pid, which its guestproc sends
// whenever it changes (exec, PR_SET_NAME) and before the process stops or
// ends: /proc of a process that cannot answer shows it.
func (s *supervisor) procCommOf(pid int32, c ipc.ProcComm) {
	s.tree.SetComm(pid, c.Comm)
}
