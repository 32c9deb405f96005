package guestproc

// The snapshot of this process's /proc/<pid> that the supervisor answers
// from while the process is stopped (ipc/procfs_snapshot.go).

import (
	"sort"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

// procSnapshotLast are the files rendered last, largest last, so that a
// snapshot over its budget loses them rather than the small ones.
var procSnapshotLast = map[string]int{"auxv": 1, "environ": 2, "mountinfo": 3, "mounts": 4, "maps": 5,
	"smaps_rollup": 6, "smaps": 7}

// procSnapshot renders p's /proc/<pid> as it is while stopped (rec: the
// supervisor's record, state T): the directory, its files and links, and
// the fd and fdinfo directories with their entries, and p's Description.
// Other directories (task, net, ns) are left to the supervisor's record,
// and so is whatever does not fit in ipc.ProcSnapshotBudget and one
// message.
//
// A process with no thread run yet (a fork child starting) has no /proc
// to render: its errno (ESRCH) says so, and the supervisor keeps its
// record.
func procSnapshot(p *kernel.Process, rec *kernel.ProcTreeInfo) (*ipc.ProcSnapshot, int32) {
	snap := &ipc.ProcSnapshot{}
	budget := ipc.ProcSnapshotBudget
	add := func(rel string, a ipc.ProcAnswer) {
		if len(a.Data) > budget {
			return
		}
		budget -= len(a.Data)
		snap.Nodes = append(snap.Nodes, ipc.ProcSnapNode{Rel: rel, Node: a})
	}
	top := procNodeAnswer(p, "", rec)
	if top.Errno != 0 {
		return nil, top.Errno
	}
	add("", top)
	var leaves []string
	for _, e := range top.Entries {
		switch {
		case e.Name == "fd" || e.Name == "fdinfo":
			dir := procNodeAnswer(p, e.Name, rec)
			if dir.Errno != 0 {
				continue
			}
			add(e.Name, dir)
			for _, f := range dir.Entries {
				leaves = append(leaves, e.Name+"/"+f.Name)
			}
		case e.Type != abi.DT_DIR:
			leaves = append(leaves, e.Name)
		}
	}
	sort.SliceStable(leaves, func(i, j int) bool { return procSnapshotLast[leaves[i]] < procSnapshotLast[leaves[j]] })
	for _, rel := range leaves {
		if a := procNodeAnswer(p, rel, rec); a.Errno == 0 && !a.Truncated {
			add(rel, a)
		}
	}
	d := describeProcess(p.Describe()) // describe.go: for elfuse dump
	snap.Description = &d
	snap.Fit()
	return snap, 0
}

// sendSnapshot sends the supervisor the snapshot of the process as it
// stops itself (StopSelf), ahead of its OpStop.
func (h *host) sendSnapshot() {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return
	}
	rec, err := h.ProcRecord(h.pid)
	if err != nil {
		return
	}
	rec.State = 'T'
	snap, errno := procSnapshot(p, rec)
	if errno != 0 {
		return
	}
	if err := h.conn.Send(ipc.MsgProcSnapshot, snap); err != nil {
		h.log.Debug("proc snapshot", "error", err)
	}
}
