package kernel

import (
	"path"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
)

// /proc/<pid> of other guest processes.
//
// A process's /proc/<pid> is rendered by that process's own kernel, which
// holds its state: the reader's kernel asks through ProcTreeHost (the
// supervisor forwards the question to the target's guestproc, whose
// kernel answers with Process.ProcLookup, the same walk that serves its
// own /proc/self), so both see the same content. Every node below
// /proc/<other pid> is one question; a file's content comes with the
// answer (procfs generates content at open, and the walk to a file is
// what open does first). A process that cannot answer (a zombie, a
// stopped guestproc) is described by the supervisor's tree instead and
// rendered here (procpid_tree.go).

// ProcNode is what a node below /proc/<pid> is, as its process renders it.
type ProcNode struct {
	Kind ProcNodeKind
	// Data is a file's content, Target a symlink's, Entries a
	// directory's (sorted).
	Data    []byte
	Target  string
	Entries []ProcDirent
	// HostPid and HostFD are set on an fd/N link to a pipe, socket or
	// anonymous inode: the rendering guestproc's host pid and the host
	// descriptor behind the link (procpid_fd.go).
	HostPid, HostFD int
	// LinkMode is a descriptor link's st_mode (0: unknown, 0777).
	LinkMode uint32
}

// ProcNodeKind says what a ProcNode is.
type ProcNodeKind int

// Kinds of ProcNode; ProcNodeHost is a host path (Target) the reader
// serves from its own process: the network directory, the namespace links
// (one set of namespaces per tree).
const (
	ProcNodeFile ProcNodeKind = iota
	ProcNodeDir
	ProcNodeLink
	ProcNodeHost
)

// ProcDirent is one directory entry.
type ProcDirent struct {
	Name string
	Type uint8 // abi.DT_*
}

// ProcTreeInfo is what the process tree knows of a process that cannot
// render its own /proc (a zombie, a stopped process).
type ProcTreeInfo struct {
	Pid, Ppid, Pgid, Sid int32
	// State is the state letter of /proc/<pid>/stat: 'Z', 'T' or 'S'.
	State byte
	// Exe is the image's host path; Argv its arguments.
	Exe  string
	Argv []string
	// Comm is the process's last comm, "" when unknown (then the
	// basename of Exe).
	Comm string
}

// ProcTreeHost is the part of Host that reaches other processes' /proc.
// A Host without it shows only the process's own pid.
type ProcTreeHost interface {
	// ProcPids lists the pids of the namespace, zombies included.
	ProcPids() ([]int32, error)
	// ProcLookup returns the node rel (clean, relative, "" for the
	// directory) below /proc/<pid>, rendered by process pid; or, when
	// that process cannot answer, the tree's record of it (node unset).
	// ESRCH: no such process.
	ProcLookup(pid int32, rel string) (ProcNode, *ProcTreeInfo, error)
	// ProcRecord returns the tree's record of pid (its group and
	// session), without asking the process.
	ProcRecord(pid int32) (*ProcTreeInfo, error)
}

// procTreeHost returns the kernel's ProcTreeHost, if its Host is one.
func (t *Task) procTreeHost() (ProcTreeHost, bool) {
	if t.Proc == nil || t.Proc.Kernel == nil || t.Proc.Kernel.Host == nil {
		return nil, false
	}
	h, ok := t.Proc.Kernel.Host.(ProcTreeHost)
	return h, ok
}

// procPids lists the pid directories of /proc: every pid of the tree,
// or the process's own alone.
func (t *Task) procPids() []int32 {
	own := t.guestPid()
	if h, ok := t.procTreeHost(); ok {
		if pids, err := h.ProcPids(); err == nil && len(pids) > 0 {
			for _, p := range pids {
				if p == own {
					return pids
				}
			}
			return append(pids, own)
		}
	}
	return []int32{own}
}

// procOtherPid returns the pid of the process directory /proc/<pid> that
// p lies in when it is another process's (rel is the rest below it).
func (t *Task) procOtherPid(p string) (pid int32, rel string, ok bool) {
	rest, found := strings.CutPrefix(p, "/proc/")
	if !found {
		return 0, "", false
	}
	num, rel, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n <= 0 || num[0] == '+' || int32(n) == t.guestPid() {
		return 0, "", false
	}
	return int32(n), rel, true
}

// isPidName reports whether name is a decimal pid as /proc lists them.
func isPidName(name string) bool {
	if name == "" || name[0] == '0' {
		return false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(name) < 11
}

// procRootChild looks name up in /proc itself without asking for the pid
// list, except for another process's pid.
func (t *Task) procRootChild(n *synthNode, name string) *synthNode {
	if isPidName(name) {
		if name == strconv.Itoa(int(t.guestPid())) {
			return t.procMake(n, name)
		}
		return t.procRemote(n.path + "/" + name)
	}
	for _, e := range t.procRootList(false) {
		if e.name == name {
			return t.procMake(n, name)
		}
	}
	return nil
}

// procRemoteChild looks name up in directory n below another process's
// /proc/<pid>; ok=false: n is not such a directory.
func (t *Task) procRemoteChild(n *synthNode, name string) (*synthNode, bool) {
	pid, rel, ok := t.procOtherPid(n.path)
	if !ok {
		return nil, false
	}
	if rel != "" {
		rel += "/"
	}
	rel += name
	if rel == "net" {
		// The network namespace is the tree's, so the reader's own.
		return &synthNode{path: n.path + "/" + name, kind: synthHost, host: "/proc/self/net"}, true
	}
	return t.procRemote("/proc/" + strconv.Itoa(int(pid)) + "/" + rel), true
}

// procRemoteList lists directory n below another process's /proc/<pid>;
// ok=false: n is not such a directory.
func (t *Task) procRemoteList(n *synthNode) ([]synthDirent, bool) {
	if _, _, ok := t.procOtherPid(n.path); !ok {
		return nil, false
	}
	if n.entries != nil {
		return n.entries, true
	}
	r := t.procRemote(n.path)
	if r == nil {
		return nil, true
	}
	return r.entries, true
}

// procRemote asks for the node at canonical path p, below another
// process's /proc/<pid>. nil: no such node.
func (t *Task) procRemote(p string) *synthNode {
	pid, rel, ok := t.procOtherPid(p)
	if !ok {
		return nil
	}
	h, ok := t.procTreeHost()
	if !ok {
		return nil
	}
	node, info, err := h.ProcLookup(pid, rel)
	if err != nil {
		return nil
	}
	if info != nil {
		var found bool
		node, found = t.procTreeNode(info, rel)
		if !found {
			return nil
		}
	}
	return procNodeOf(p, node)
}

// procNodeOf turns a rendered node into the synthetic node at path p.
func procNodeOf(p string, node ProcNode) *synthNode {
	switch node.Kind {
	case ProcNodeDir:
		ents := make([]synthDirent, 0, len(node.Entries))
		for _, e := range node.Entries {
			ents = append(ents, synthDirent{e.Name, e.Type})
		}
		perm := uint32(0o555)
		if path.Base(p) == "ns" {
			perm = nsDirPerm // procfs.go
		}
		return &synthNode{path: p, kind: synthDir, perm: perm, entries: ents}
	case ProcNodeLink:
		n := &synthNode{path: p, kind: synthLink, perm: 0o777, target: node.Target}
		if node.LinkMode != 0 {
			n.perm = node.LinkMode & 0o777
		}
		if node.HostPid > 0 && node.HostFD >= 0 && procPeerTarget(node.Target) {
			n.peer = &procPeerFD{hostPid: node.HostPid, hostFD: node.HostFD, target: node.Target}
		}
		return n
	case ProcNodeHost:
		if !strings.HasPrefix(node.Target, "/proc/self/") {
			return nil // only the reader's own namespaces' files
		}
		return &synthNode{path: p, kind: synthHost, host: node.Target}
	}
	data := node.Data
	perm := uint32(0o444)
	if path.Base(p) == "comm" {
		perm = 0o644 // writable by its own process only (procfs_comm.go)
	}
	return &synthNode{path: p, kind: synthFile, perm: perm,
		gen: func(*Task) ([]byte, error) { return data, nil }}
}

// ProcLookup renders the node rel (clean, relative; "" for the directory)
// below the process's own /proc/<pid>, for another process's reader. It
// runs on a goroutine other than the vCPUs' and does not stop the guest:
// the generators read the state syscalls keep, under the same locks.
// rec is the tree's record of the process (nil if unknown), which stat and
// status show. Errors are abi.Errno values: ENOENT for no such node,
// ESRCH before the process has a thread.
func (p *Process) ProcLookup(rel string, rec *ProcTreeInfo) (ProcNode, error) {
	n, err := p.procLookup(rel, rec)
	if err != nil {
		return ProcNode{}, toErrno(err)
	}
	return n, nil
}

func (p *Process) procLookup(rel string, rec *ProcTreeInfo) (ProcNode, error) {
	t := p.anyTask()
	if t == nil {
		return ProcNode{}, abi.ESRCH
	}
	parts := strings.Split(rel, "/")
	if rel == "" {
		parts = nil
	}
	// The fd directory is the resolver's for the own process (a redirect
	// to the magic links); render it here.
	tail := parts
	if len(tail) >= 2 && tail[0] == "task" {
		tail = tail[2:]
	}
	if len(tail) >= 1 && tail[0] == "fd" {
		return p.procFdNode(tail[1:])
	}
	w, _, err := t.synthWalk("/proc/"+strconv.Itoa(int(t.guestPid()))+"/"+rel, false, 0)
	if err != nil {
		return ProcNode{}, err
	}
	n := w.node
	if n == nil {
		return ProcNode{}, abi.ENOENT
	}
	switch n.kind {
	case synthFile:
		// Seen from another process, a process whose threads all wait
		// in the kernel sleeps.
		switch path.Base(n.path) {
		case "status", "stat":
			v := procView{state: p.runState(), pgid: t.guestPid(), sid: t.guestPid()}
			if rec != nil {
				v.pgid, v.sid = rec.Pgid, rec.Sid
				if rec.State == 'T' {
					v.state = 'T' // rendered as it stops (ipc/procfs_snapshot.go)
				}
			} else {
				v.pgid, v.sid = t.procGroupIDs()
			}
			if path.Base(n.path) == "stat" {
				return ProcNode{Kind: ProcNodeFile, Data: []byte(t.procStat(v))}, nil
			}
			return ProcNode{Kind: ProcNodeFile, Data: []byte(t.procStatus(v))}, nil
		}
		data, err := n.gen(t)
		if err != nil {
			return ProcNode{}, err
		}
		return ProcNode{Kind: ProcNodeFile, Data: data}, nil
	case synthDir:
		var ents []ProcDirent
		for _, e := range t.synthList(n) {
			ents = append(ents, ProcDirent{e.name, e.typ})
		}
		return ProcNode{Kind: ProcNodeDir, Entries: ents}, nil
	case synthLink:
		return ProcNode{Kind: ProcNodeLink, Target: n.target}, nil
	case synthHost:
		return ProcNode{Kind: ProcNodeHost, Target: n.host}, nil
	}
	return ProcNode{}, abi.ENOENT
}

// procFdNode renders fd (rest empty) or fd/N of the process.
func (p *Process) procFdNode(rest []string) (ProcNode, error) {
	if p.FDs == nil {
		return ProcNode{}, abi.ENOENT
	}
	if len(rest) == 0 {
		var ents []ProcDirent
		for _, e := range p.FDs.Entries() {
			ents = append(ents, ProcDirent{strconv.Itoa(int(e.FD)), abi.DT_LNK})
		}
		return ProcNode{Kind: ProcNodeDir, Entries: ents}, nil
	}
	fd, err := strconv.ParseInt(rest[0], 10, 32)
	if len(rest) > 1 || err != nil || rest[0][0] == '+' {
		return ProcNode{}, abi.ENOENT
	}
	return p.procFdLink(int32(fd))
}

// anyTask returns the process's thread with the lowest tid (the leader
// while it lives), nil before any thread ran.
func (p *Process) anyTask() *Task {
	s := p.sigHandlers()
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Task
	for t := range s.tasks {
		if best == nil || t.Tid < best.Tid {
			best = t
		}
	}
	return best
}

// runState is the state letter of a process seen from another: 'S' when
// every thread is in a syscall (waiting, most likely), else 'R'.
func (p *Process) runState() byte {
	s := p.sigHandlers()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tasks {
		if _, _, in := t.InSyscall(); !in {
			return 'R'
		}
	}
	return 'S'
}
