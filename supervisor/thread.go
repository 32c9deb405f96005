package supervisor

// Thread ids. A guest process's first thread has the process's pid as its
// tid; every later thread gets an id from the same namespace, never
// reused while the thread lives. kill(2) of such a tid reaches its whole
// process (Linux accepts a tid there and signals the thread group), and
// tgkill(2) of it reaches that thread.

import (
	"sort"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// NewTid allocates a thread id for a new thread of process tgid. EAGAIN
// past max-procs (threads count, as in Linux's pid limit).
func (t *Tree) NewTid(tgid int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[tgid]
	if p == nil || p.State == Zombie {
		return 0, abi.ESRCH
	}
	if t.max > 0 && len(t.procs)+len(t.tids) >= t.max {
		return 0, abi.EAGAIN
	}
	tid := t.allocPid()
	if t.tids == nil {
		t.tids = map[int32]int32{}
	}
	t.tids[tid] = tgid
	return tid, nil
}

// FreeTid releases thread id tid of process tgid (a no-op for anything
// else).
func (t *Tree) FreeTid(tgid, tid int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tids[tid] == tgid {
		delete(t.tids, tid)
	}
}

// TgidOf returns the process of thread id tid: tid itself for a process,
// its process for a later thread; ok false for an unknown id.
func (t *Tree) TgidOf(tid int32) (tgid int32, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.procs[tid]; ok {
		return tid, true
	}
	tgid, ok = t.tids[tid]
	return tgid, ok
}

// Tids returns the ids of the later threads of process tgid, sorted.
func (t *Tree) Tids(tgid int32) []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int32
	for tid, g := range t.tids {
		if g == tgid {
			out = append(out, tid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// isTidLocked reports whether id is a live thread id. Preconditions: t.mu
// held.
func (t *Tree) isTidLocked(id int32) bool {
	_, ok := t.tids[id]
	return ok
}

// freeTidsLocked releases every thread id of process tgid (it ended).
// Preconditions: t.mu held.
func (t *Tree) freeTidsLocked(tgid int32) {
	for tid, g := range t.tids {
		if g == tgid {
			delete(t.tids, tid)
		}
	}
}

// isThread reports whether id is the id of a later thread of a process.
func (t *Tree) isThread(id int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.isTidLocked(id)
}

// tgidOrSelf maps a later thread's id to its process; any other id is
// returned as it is.
func (t *Tree) tgidOrSelf(id int32) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok := t.tids[id]; ok {
		return g
	}
	return id
}

// killThread routes tgkill/tkill to thread req.Pid, a later thread of a
// process (req.Tgid, or -1 for any).
func (s *supervisor) killThread(from int32, req *ipc.Request) (bool, error) {
	tgid := s.tree.tgidOrSelf(req.Pid)
	if req.Tgid != -1 && req.Tgid != tgid {
		return false, abi.ESRCH
	}
	if req.Sig < 0 || req.Sig > abi.NSIG {
		return false, abi.EINVAL
	}
	if req.Sig == 0 {
		return false, nil
	}
	if tgid == from {
		// Its own thread (the kernel normally finds it itself).
		return true, nil
	}
	if req.Sig == abi.SIGKILL || req.Sig == abi.SIGSTOP || req.Sig == abi.SIGCONT {
		// Whole-process actions: as for the process itself.
		r := *req
		r.Pid, r.Tgid = tgid, tgid
		return false, s.sendThreadSignal(tgid, &r, 0)
	}
	return false, s.sendThreadSignal(tgid, req, req.Pid)
}

// sendThreadSignal sends a thread-directed signal to process tgid's
// guestproc (tid 0: its first thread) unless the host takes it over.
func (s *supervisor) sendThreadSignal(tgid int32, req *ipc.Request, tid int32) error {
	if s.hostSignal(tgid, req) {
		return nil
	}
	if tid == 0 || tid == tgid {
		s.snapshotSignal(tgid, req.Sig, true) // its status shows the first thread's
	}
	return s.send(tgid, ipc.MsgSignal, ipc.Signal{Sig: req.Sig, Info: req.Info, Thread: true, Tid: tid})
}
