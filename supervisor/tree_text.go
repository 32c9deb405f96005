package supervisor

// Which files the tree executes, for ETXTBSY (kernel/textbusy.go): each
// process reports its program and interpreter at start and at every
// exec; a fork child runs its parent's until it execs.

// SetImage records the files (device, inode) pid now executes.
func (t *Tree) SetImage(pid int32, files [][2]uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[pid]; p != nil {
		p.images = append([][2]uint64(nil), files...)
	}
}

// TextBusy reports whether a live process executes file.
func (t *Tree) TextBusy(file [2]uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.procs {
		if p.State == Zombie {
			continue
		}
		for _, f := range p.images {
			if f == file {
				return true
			}
		}
	}
	return false
}
