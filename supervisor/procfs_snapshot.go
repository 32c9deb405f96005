package supervisor

// /proc of stopped processes from the snapshots their guestprocs render as
// they stop (protocol in ipc/procfs_snapshot.go).

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// stopSnaps are the snapshots of stopped processes, by pid.
type stopSnaps struct {
	mu    sync.Mutex
	byPid map[int32]*stopSnap
}

// stopSnap is one process's snapshot and the signals it was sent since.
type stopSnap struct {
	nodes map[string]ipc.ProcAnswer
	// desc is its Description as it stopped, for elfuse dump (nil: none).
	desc *ipc.Description
	// blocked, ignored and caught are its signal masks (from status).
	blocked, ignored, caught uint64
	// thread and shared are the signals sent to it while stopped:
	// thread-directed, process-directed.
	thread, shared uint64
}

// keepSnapshot records snap as pid's, replacing an earlier one.
func (s *supervisor) keepSnapshot(pid int32, snap *ipc.ProcSnapshot) {
	if snap == nil || len(snap.Nodes) == 0 {
		s.dropSnapshot(pid)
		return
	}
	ss := &stopSnap{nodes: make(map[string]ipc.ProcAnswer, len(snap.Nodes))}
	if snap.Description != nil {
		d := *snap.Description
		ss.desc = &d
	}
	for _, n := range snap.Nodes {
		ss.nodes[n.Rel] = n.Node
	}
	if st, ok := ss.nodes["status"]; ok {
		ss.blocked = statusMask(st.Data, "SigBlk")
		ss.ignored = statusMask(st.Data, "SigIgn")
		ss.caught = statusMask(st.Data, "SigCgt")
	}
	w := &s.snaps
	w.mu.Lock()
	if w.byPid == nil {
		w.byPid = map[int32]*stopSnap{}
	}
	w.byPid[pid] = ss
	w.mu.Unlock()
}

// dropSnapshot forgets pid's snapshot (it continued, ended, or did not
// stop after all).
func (s *supervisor) dropSnapshot(pid int32) {
	w := &s.snaps
	w.mu.Lock()
	delete(w.byPid, pid)
	w.mu.Unlock()
}

// askSnapshot has g's process render its snapshot before another
// process's SIGSTOP stops it; without an answer the stopped process's
// /proc is the tree's record alone, as before.
func (s *supervisor) askSnapshot(g *guestproc) {
	p, ok := s.tree.Get(g.pid)
	if !ok || p.State != Running {
		return
	}
	// A fork child stopped before its first instruction has no /proc
	// to render yet (ESRCH): it stops at once, as it would have, and its
	// /proc is the tree's record (asking again until it answered would let
	// it run on meanwhile).
	rec := s.procRecord(p)
	rec.State = 'T'
	ans, ok := s.procAsk(ipc.ProcQuery{Pid: g.pid, Snapshot: true}, rec)
	if !ok || ans.Errno != 0 {
		s.log.Debug("no /proc snapshot of a process stopping", "pid", g.pid, "answered", ok, "errno", ans.Errno)
		s.dropSnapshot(g.pid)
		return
	}
	s.keepSnapshot(g.pid, ans.Snapshot)
}

// snapshotAnswer answers node rel of stopped process pid from its
// snapshot; ok=false when there is none or it lacks rel.
func (s *supervisor) snapshotAnswer(pid int32, rel string) (ipc.ProcAnswer, bool) {
	w := &s.snaps
	w.mu.Lock()
	defer w.mu.Unlock()
	ss := w.byPid[pid]
	if ss == nil {
		return ipc.ProcAnswer{}, false
	}
	rel = threadRel(pid, rel)
	a, ok := ss.nodes[rel]
	if !ok {
		return ipc.ProcAnswer{}, false
	}
	if rel == "status" && ss.thread|ss.shared != 0 {
		a.Data = orStatusMask(orStatusMask(a.Data, "SigPnd", ss.thread), "ShdPnd", ss.shared)
	}
	return a, true
}

// stoppedDescription is stopped process pid's Description as it stopped,
// with the signals sent to it since among the pending ones; ok=false when
// there is none.
func (s *supervisor) stoppedDescription(pid int32) (ipc.Description, bool) {
	w := &s.snaps
	w.mu.Lock()
	defer w.mu.Unlock()
	ss := w.byPid[pid]
	if ss == nil || ss.desc == nil {
		return ipc.Description{}, false
	}
	d := *ss.desc
	d.Threads = append([]ipc.ThreadDesc(nil), d.Threads...)
	d.Pending |= ss.shared
	if len(d.Threads) > 0 {
		d.Threads[0].Pending |= ss.thread
	}
	return d, true
}

// threadRel maps a path below the first thread's directory, task/PID/, to
// the process's own (the files are the same; the directory itself, which
// has no task/ in it, is left to the record); others are left alone.
func threadRel(pid int32, rel string) string {
	if r, ok := strings.CutPrefix(rel, "task/"+strconv.Itoa(int(pid))+"/"); ok {
		return r
	}
	return rel
}

// snapshotSignal adds sig, sent to stopped process pid (thread-directed
// or not), to the pending sets its status shows, unless Linux would have
// discarded it: not blocked, and ignored or ignored by default. SIGKILL
// and SIGCONT never stay pending: they end or continue the process.
func (s *supervisor) snapshotSignal(pid, sig int32, thread bool) {
	if sig <= 0 || sig > abi.NSIG || sig == abi.SIGKILL || sig == abi.SIGCONT {
		return
	}
	w := &s.snaps
	w.mu.Lock()
	defer w.mu.Unlock()
	ss := w.byPid[pid]
	if ss == nil {
		return
	}
	bit := uint64(1) << (sig - 1)
	if ss.blocked&bit == 0 && (ss.ignored&bit != 0 || (ss.caught&bit == 0 && ignoredByDefault(sig))) {
		return
	}
	if thread {
		ss.thread |= bit
	} else {
		ss.shared |= bit
	}
}

// ignoredByDefault reports whether sig's default action is to ignore it.
func ignoredByDefault(sig int32) bool {
	switch sig {
	case abi.SIGCHLD, abi.SIGURG, abi.SIGWINCH:
		return true
	}
	return false
}

// statusMask reads the hexadecimal mask of line key of a status file.
func statusMask(status []byte, key string) uint64 {
	_, rest, ok := bytes.Cut(status, []byte("\n"+key+":\t"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	v, _ := strconv.ParseUint(string(line), 16, 64)
	return v
}

// orStatusMask ORs bits into the mask of line key of a status file.
func orStatusMask(status []byte, key string, bits uint64) []byte {
	if bits == 0 {
		return status
	}
	head, rest, ok := bytes.Cut(status, []byte("\n"+key+":\t"))
	if !ok {
		return status
	}
	line, tail, _ := bytes.Cut(rest, []byte("\n"))
	v, _ := strconv.ParseUint(string(line), 16, 64)
	out := make([]byte, 0, len(status)+16)
	out = append(out, head...)
	out = fmt.Appendf(out, "\n%s:\t%016x\n", key, v|bits)
	return append(out, tail...)
}
