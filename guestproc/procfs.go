package guestproc

// /proc of other guest processes (protocol in ipc/procfs.go): the host
// asks the supervisor on behalf of its kernel (kernel.ProcTreeHost), and
// answers the supervisor's questions about its own process from its
// reader goroutine, without stopping the guest.

import (
	"errors"
	"sync"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

// A guestproc's parent is the supervisor, which removes the host
// directories that stand in for synthetic ones as cwd when the tree ends.
func init() { kernel.EnableSynthCwd() }

// procAnswerTimeout bounds the wait for the supervisor's answer, which
// itself gives up on a silent target sooner; it only guards against a
// lost answer.
const procAnswerTimeout = 10 * time.Second

// procCalls routes the supervisor's ProcAnswers to the waiting lookups.
type procCalls struct {
	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]chan ipc.ProcAnswer
}

// procCall sends q and waits for its answer.
func (h *host) procCall(q ipc.ProcQuery) (ipc.ProcAnswer, error) {
	c := &h.procCalls
	ch := make(chan ipc.ProcAnswer, 1)
	c.mu.Lock()
	if c.waiting == nil {
		c.waiting = map[uint64]chan ipc.ProcAnswer{}
	}
	c.nextID++
	q.ID = c.nextID
	c.waiting[q.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, q.ID)
		c.mu.Unlock()
	}()
	if err := h.conn.Send(ipc.MsgProcQuery, q); err != nil {
		return ipc.ProcAnswer{}, abi.EIO
	}
	t := time.NewTimer(procAnswerTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.Errno != 0 {
			return a, abi.Errno(a.Errno)
		}
		return a, nil
	case <-h.dead:
	case <-t.C:
	}
	return ipc.ProcAnswer{}, abi.EIO
}

// procAnswered routes an answer from the supervisor.
func (h *host) procAnswered(a ipc.ProcAnswer) {
	c := &h.procCalls
	c.mu.Lock()
	ch := c.waiting[a.ID]
	delete(c.waiting, a.ID)
	c.mu.Unlock()
	if ch != nil {
		ch <- a
	}
}

// ProcPids implements kernel.ProcTreeHost.
func (h *host) ProcPids() ([]int32, error) {
	a, err := h.procCall(ipc.ProcQuery{List: true})
	return a.Pids, err
}

// ProcLookup implements kernel.ProcTreeHost.
func (h *host) ProcLookup(pid int32, rel string) (kernel.ProcNode, *kernel.ProcTreeInfo, error) {
	a, err := h.procCall(ipc.ProcQuery{Pid: pid, Rel: rel})
	if err != nil {
		return kernel.ProcNode{}, nil, err
	}
	if a.Tree != nil {
		return kernel.ProcNode{}, treeInfo(a.Tree), nil
	}
	n := kernel.ProcNode{Data: a.Data, Target: a.Target, HostPid: a.HostPid, HostFD: a.HostFD,
		LinkMode: a.LinkMode}
	switch a.Kind {
	case ipc.ProcDir:
		n.Kind = kernel.ProcNodeDir
	case ipc.ProcLink:
		n.Kind = kernel.ProcNodeLink
	case ipc.ProcHost:
		n.Kind = kernel.ProcNodeHost
	}
	for _, e := range a.Entries {
		n.Entries = append(n.Entries, kernel.ProcDirent{Name: e.Name, Type: e.Type})
	}
	return n, nil, nil
}

// PrlimitOther implements kernel.PrlimitHost.
func (h *host) PrlimitOther(pid int32, res uint32, newLim *abi.Rlimit, c kernel.PrlimitCaller) (abi.Rlimit, error) {
	pq := &ipc.ProcPrlimit{Resource: res, UID: c.UID, GID: c.GID, SysResource: c.SysResource}
	if newLim != nil {
		pq.New = &[2]uint64{newLim.Cur, newLim.Max}
	}
	a, err := h.procCall(ipc.ProcQuery{Pid: pid, Prlimit: pq})
	if err != nil {
		return abi.Rlimit{}, err
	}
	if a.Limit == nil {
		return abi.Rlimit{}, abi.ESRCH
	}
	return abi.Rlimit{Cur: a.Limit[0], Max: a.Limit[1]}, nil
}

// prlimitServe answers a Prlimit query on process p.
func prlimitServe(p *kernel.Process, q ipc.ProcQuery) ipc.ProcAnswer {
	a := ipc.ProcAnswer{ID: q.ID}
	pq := q.Prlimit
	var newLim *abi.Rlimit
	if pq.New != nil {
		newLim = &abi.Rlimit{Cur: pq.New[0], Max: pq.New[1]}
	}
	old, err := p.PrlimitFrom(pq.Resource, newLim, kernel.PrlimitCaller{UID: pq.UID, GID: pq.GID, SysResource: pq.SysResource})
	if err != nil {
		var e abi.Errno
		if !errors.As(err, &e) {
			e = abi.EIO
		}
		a.Errno = int32(e)
		return a
	}
	a.Limit = &[2]uint64{old.Cur, old.Max}
	return a
}

// ProcRecord implements kernel.ProcTreeHost.
func (h *host) ProcRecord(pid int32) (*kernel.ProcTreeInfo, error) {
	a, err := h.procCall(ipc.ProcQuery{Pid: pid, Record: true})
	if err != nil {
		return nil, err
	}
	if a.Tree == nil {
		return nil, abi.ESRCH
	}
	return treeInfo(a.Tree), nil
}

// treeInfo converts the supervisor's record (nil stays nil).
func treeInfo(t *ipc.ProcTree) *kernel.ProcTreeInfo {
	if t == nil {
		return nil
	}
	return &kernel.ProcTreeInfo{Pid: t.Pid, Ppid: t.Ppid, Pgid: t.Pgid, Sid: t.Sid,
		State: t.State, Exe: t.Exe, Argv: t.Argv, Comm: t.Comm}
}

// procServe answers the supervisor's question about this process. It
// runs on its own goroutine so the reader goes on routing messages.
func (h *host) procServe(q ipc.ProcQuery) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	var a ipc.ProcAnswer
	switch {
	case p == nil:
		a.Errno = int32(abi.ESRCH)
	case q.Prlimit != nil:
		a = prlimitServe(p, q)
	case q.Snapshot:
		a.Snapshot, a.Errno = procSnapshot(p, treeInfo(q.Tree)) // procfs_snapshot.go
	default:
		a = procNodeAnswer(p, q.Rel, treeInfo(q.Tree))
	}
	a.ID = q.ID
	if err := h.conn.Send(ipc.MsgProcAnswer, a); err != nil {
		h.log.Debug("proc answer", "error", err)
	}
}

// procNodeAnswer renders node rel of p's /proc/<pid> as a ProcAnswer.
func procNodeAnswer(p *kernel.Process, rel string, rec *kernel.ProcTreeInfo) ipc.ProcAnswer {
	var a ipc.ProcAnswer
	n, err := p.ProcLookup(rel, rec)
	if err != nil {
		var e abi.Errno
		if !errors.As(err, &e) {
			e = abi.EIO
		}
		a.Errno = int32(e)
		return a
	}
	a.Data, a.Target = n.Data, n.Target
	a.HostPid, a.HostFD, a.LinkMode = n.HostPid, n.HostFD, n.LinkMode
	if len(a.Data) > ipc.ProcMaxData {
		a.Data, a.Truncated = a.Data[:ipc.ProcMaxData], true
	}
	switch n.Kind {
	case kernel.ProcNodeDir:
		a.Kind = ipc.ProcDir
	case kernel.ProcNodeLink:
		a.Kind = ipc.ProcLink
	case kernel.ProcNodeHost:
		a.Kind = ipc.ProcHost
	}
	for _, e := range n.Entries {
		a.Entries = append(a.Entries, ipc.ProcDirent{Name: e.Name, Type: e.Type})
	}
	return a
}

// CommChanged implements kernel.CommHost: the supervisor answers /proc for
// a process another one stopped, which cannot answer then, with the name
// it had.
func (h *host) CommChanged(name string) {
	h.mu.Lock()
	running := h.proc != nil
	h.mu.Unlock()
	if !running {
		return // a process starting: the life tells it once it runs
	}
	if err := h.conn.Send(ipc.MsgProcComm, ipc.ProcComm{Comm: name}); err != nil {
		h.log.Debug("proc comm", "error", err)
	}
}

// sendComm tells the supervisor the process's comm: at the start, before
// the process ends or stops itself (CommChanged tells every change
// between): the /proc of a zombie or a stopped process is answered from
// the tree, since its guestproc cannot answer then.
func (h *host) sendComm() {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return
	}
	if err := h.conn.Send(ipc.MsgProcComm, ipc.ProcComm{Comm: p.Comm()}); err != nil {
		h.log.Debug("proc comm", "error", err)
	}
}
