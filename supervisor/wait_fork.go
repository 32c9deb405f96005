package supervisor

import "sync"

// handedOut is the set of fork children whose parent returned from fork
// without waiting for them to start (OpFork with Flag). Such a child that
// fails to start cannot be forgotten (the parent may already wait for it,
// or have signalled it): its end is reported as a death by SIGKILL, as
// when its guestproc vanishes. The zero value is ready.
type handedOut struct {
	mu   sync.Mutex
	pids map[int32]bool
}

// mark records that pid's parent has its pid.
func (h *handedOut) mark(pid int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pids == nil {
		h.pids = map[int32]bool{}
	}
	h.pids[pid] = true
}

// take reports whether pid was marked and forgets it (its guestproc's
// life ended, one way or another).
func (h *handedOut) take(pid int32) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	ok := h.pids[pid]
	delete(h.pids, pid)
	return ok
}
