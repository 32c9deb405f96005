package supervisor

// pidfds: descriptors that name one incarnation of a guest process.
//
// A guest's pidfd is a host eventfd the supervisor makes per pidfd_open
// (or CLONE_PIDFD) and passes back with the reply (OpPidfdOpen). The
// supervisor keeps a copy of every eventfd of a live target and, when the
// target exits, adds 1 to each and drops its copies: the guest's poll,
// select and epoll then see POLLIN, and keep seeing it since the guest's
// kernel never lets it read the counter. A target already a zombie gets
// a readable eventfd at once.
//
// Incarnations: every target gets a number (Gen) when its first pidfd is
// made; the entry lives until its pid is handed to a new process (born),
// so a pidfd whose Gen no longer matches its pid's entry names a process
// that is gone, whatever now holds the number.
//
// Lock order: pidfdTargets.mu, then Tree.mu (the tree never calls back);
// nothing is sent to a guestproc with pidfdTargets.mu held.

import (
	"encoding/binary"
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// pidfdTargets is the set of processes some pidfd names.
type pidfdTargets struct {
	mu    sync.Mutex
	last  uint64
	byPid map[int32]*pidfdTarget
}

// pidfdTarget is one incarnation of a process that pidfds name.
type pidfdTarget struct {
	gen uint64
	// exited is set once the process ended; efds are the supervisor's
	// copies of its live pidfds' eventfds (none once exited).
	exited bool
	efds   []int
}

// pidfdOpen makes a pidfd eventfd for process pid and returns its
// incarnation and the descriptor (the caller sends and closes it).
func (s *supervisor) pidfdOpen(pid int32) (uint64, int, error) {
	pt := &s.pidfds
	pt.mu.Lock()
	defer pt.mu.Unlock()
	p, ok := s.tree.Get(pid)
	if !ok {
		return 0, -1, abi.ESRCH
	}
	if pt.byPid == nil {
		pt.byPid = map[int32]*pidfdTarget{}
	}
	t := pt.byPid[pid]
	if t == nil {
		pt.last++
		t = &pidfdTarget{gen: pt.last, exited: p.State == Zombie}
		pt.byPid[pid] = t
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return 0, -1, abi.EMFILE
	}
	if t.exited {
		signalEventfd(efd)
		return t.gen, efd, nil
	}
	mine, err := unix.FcntlInt(uintptr(efd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		unix.Close(efd)
		return 0, -1, abi.EMFILE
	}
	t.efds = append(t.efds, mine)
	return t.gen, efd, nil
}

// pidfdExited makes the pidfds of pid readable: the process ended.
// Preconditions: the tree already records the exit (a concurrent
// pidfdOpen then sees a zombie).
func (s *supervisor) pidfdExited(pid int32) {
	pt := &s.pidfds
	pt.mu.Lock()
	defer pt.mu.Unlock()
	t := pt.byPid[pid]
	if t == nil {
		return
	}
	t.exited = true
	t.release()
}

// pidfdBorn forgets the incarnation that last held pid: the number now
// names a new process, which old pidfds must not reach.
func (s *supervisor) pidfdBorn(pid int32) {
	pt := &s.pidfds
	pt.mu.Lock()
	defer pt.mu.Unlock()
	t := pt.byPid[pid]
	if t == nil {
		return
	}
	t.release() // none left: the old incarnation exited
	delete(pt.byPid, pid)
}

// pidfdKill is kill(2) of req.Pid from process from, provided the pid
// still holds incarnation req.Seq. A zombie takes any valid signal
// without effect, as Linux's does until it is reaped.
//
// The signal goes out after the lock is released (a send may wait for a
// stopped guestproc's socket): in between, the process may exit, which
// the signal then finds as kill(2) would, or its pid be reaped and reused
// by a new process, which takes a wrap of the whole pid space.
func (s *supervisor) pidfdKill(from int32, req *ipc.Request) (bool, error) {
	pt := &s.pidfds
	pt.mu.Lock()
	t := pt.byPid[req.Pid]
	live := t != nil && t.gen == req.Seq
	exited := live && t.exited
	pt.mu.Unlock()
	if !live {
		return false, abi.ESRCH
	}
	if _, ok := s.tree.Get(req.Pid); !ok {
		return false, abi.ESRCH // reaped
	}
	if req.Sig < 0 || req.Sig > abi.NSIG {
		return false, abi.EINVAL
	}
	if exited {
		return false, nil
	}
	k := *req
	k.Thread = false
	return s.kill(from, &k)
}

// signalEventfd adds 1 to an eventfd's counter.
func signalEventfd(fd int) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	unix.Write(fd, b[:])
}

// release makes the incarnation's pidfds readable and drops the
// supervisor's copies. Preconditions: the pidfd table's mu held.
func (t *pidfdTarget) release() {
	for _, fd := range t.efds {
		signalEventfd(fd)
		unix.Close(fd)
	}
	t.efds = nil
}
