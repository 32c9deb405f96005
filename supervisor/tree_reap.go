package supervisor

// Reaping, including children reaped before the tree hears they ended.
//
// A fork child tells its parent of its exit straight over their fork
// socket (ipc/childexit.go) as well as telling the supervisor. The parent
// may take that zombie and send OpReap before the child's Exited reaches
// the tree, which handles each guestproc's messages on its own goroutine.
// Such a child leaves the namespace at once, as on Linux: what the parent
// asks next (kill, sched_*, an open for writing of the program the child
// ran) finds it gone, its slot under --max-procs is free and no one adopts
// it. It waits in early, its pid not handed out again, until its Exit,
// which still sends the parent the usual child event (the parent uses it
// only to know the supervisor caught up) unless the parent ended first.

// Reap discards zombie pid of parent (a parent that ignores SIGCHLD or set
// SA_NOCLDWAIT never sees its children as zombies, and one that took a
// pushed zombie tells the tree so), or takes out of the namespace a child
// whose exit the tree has not heard of yet.
func (t *Tree) Reap(parent, pid int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.procs[pid]
	if c == nil || c.Ppid != parent {
		return
	}
	t.removeLocked(pid)
	if c.State != Zombie {
		if t.early == nil {
			t.early = map[int32]*Proc{}
		}
		t.early[pid] = c
	}
}

// takeEarlyLocked returns and forgets pid if it was reaped early.
// Preconditions: t.mu held.
func (t *Tree) takeEarlyLocked(pid int32) *Proc {
	p := t.early[pid]
	delete(t.early, pid)
	return p
}

// orphanEarlyLocked forgets that the children pid reaped early were its:
// their exits tell no one (a later process may get the pid). Preconditions:
// t.mu held.
func (t *Tree) orphanEarlyLocked(pid int32) {
	for _, c := range t.early {
		if c.Ppid == pid {
			c.Ppid = 0
		}
	}
}

// Parent returns the parent of pid, a process or one reaped early.
func (t *Tree) Parent(pid int32) (int32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		return p.Ppid, true
	}
	if p := t.early[pid]; p != nil {
		return p.Ppid, true
	}
	return 0, false
}

// Ending reports whether pid is a child of parent whose exit the tree has
// not heard of yet (running, stopped, or reaped early).
func (t *Tree) Ending(pid, parent int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		return p.Ppid == parent && p.State != Zombie
	}
	p := t.early[pid]
	return p != nil && p.Ppid == parent
}
