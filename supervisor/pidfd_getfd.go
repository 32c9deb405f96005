package supervisor

// pidfd_getfd(2) across guestprocs (protocol in ipc/getfd.go): the caller's
// request is checked against the pidfd table (the pidfd must still name a
// live incarnation), then forwarded to the target's guestproc, whose
// answer carries the descriptor. Waiters share the /proc exchange's table
// (procfs.go): its IDs, and its release of every waiter on a target whose
// socket closed.

import (
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// pidfdGetfd answers ipc.OpPidfdGetfd from g. It runs on its own
// goroutine and sends the reply itself.
func (s *supervisor) pidfdGetfd(g *guestproc, req ipc.Request) {
	rep := ipc.Reply{ID: req.ID}
	fd, err := s.getfdFrom(req)
	var out []int
	if err != nil {
		e, ok := err.(abi.Errno)
		if !ok {
			e = abi.EIO
		}
		rep.Errno = int32(e)
	} else {
		out = []int{fd}
		defer unix.Close(fd)
	}
	if err := g.send(ipc.MsgReply, rep, out...); err != nil {
		s.log.Debug("pidfd_getfd reply not delivered", "pid", g.pid, "error", err)
	}
}

// getfdFrom asks the target of req for its descriptor req.Options.
func (s *supervisor) getfdFrom(req ipc.Request) (int, error) {
	pt := &s.pidfds
	pt.mu.Lock()
	t := pt.byPid[req.Pid]
	live := t != nil && t.gen == req.Seq && !t.exited
	pt.mu.Unlock()
	if !live {
		return -1, abi.ESRCH
	}
	if p, ok := s.tree.Get(req.Pid); !ok || p.State == Zombie {
		return -1, abi.ESRCH
	}
	s.mu.Lock()
	target := s.gps[req.Pid]
	s.mu.Unlock()
	if target == nil {
		return -1, abi.ESRCH
	}
	q := ipc.GetFD{FD: req.Options, Ptrace: req.Flag}
	if len(req.Files) == 1 {
		q.UID, q.GID = uint32(req.Files[0][0]), uint32(req.Files[0][1])
	} else {
		return -1, abi.EINVAL
	}
	w := s.procs()
	pw := &procWaiter{pid: req.Pid, ch: make(chan ipc.ProcAnswer, 1), gone: make(chan struct{})}
	w.mu.Lock()
	w.nextID++
	q.ID = w.nextID
	w.waiting[q.ID] = pw
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiting, q.ID)
		w.mu.Unlock()
	}()
	if err := target.send(ipc.MsgGetFD, q); err != nil {
		return -1, abi.ESRCH
	}
	select {
	case ans := <-pw.ch:
		if ans.Errno != 0 {
			return -1, abi.Errno(ans.Errno)
		}
		return ans.HostFD, nil
	case <-pw.gone:
		// An answer that raced with the end of the target is dropped.
		select {
		case ans := <-pw.ch:
			if ans.Errno == 0 {
				unix.Close(ans.HostFD)
			}
		default:
		}
		return -1, abi.ESRCH
	}
}

// getfdAnswered hands the answer a from process from, with its
// descriptors fds, to the waiting request; what nobody takes is closed.
func (s *supervisor) getfdAnswered(from int32, a ipc.GetFDAnswer, fds []int) {
	ans := ipc.ProcAnswer{ID: a.ID, Errno: a.Errno}
	switch {
	case a.Errno == 0 && len(fds) == 1:
		ans.HostFD = fds[0]
		fds = nil
	case a.Errno == 0:
		ans.Errno = int32(abi.EIO)
	}
	closeAll(fds)
	w := s.procs()
	w.mu.Lock()
	pw := w.waiting[a.ID]
	if pw != nil && pw.pid == from {
		delete(w.waiting, a.ID)
	} else {
		pw = nil
	}
	w.mu.Unlock()
	if pw == nil {
		if ans.Errno == 0 {
			unix.Close(ans.HostFD)
		}
		return
	}
	pw.ch <- ans
}
