package kernel

import (
	"fmt"
	"path"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
)

// /proc/<pid> of a process that cannot render its own (procpid.go): a
// zombie (its guestproc is gone) or a stopped guestproc (it cannot read
// the question). The tree's record is all there is; the files show it the
// way Linux shows such a process: a zombie keeps its stat and status
// (state Z) while its memory, descriptors, command line and links are
// gone; a stopped process shows state T, its command line and image.

// procTreeDirs are the directories of a pid directory.
var procTreeDirs = []string{"fd", "fdinfo", "task", "net"}

// procTreeNode renders node rel of the process info describes; found=false
// for names that do not exist (or links a zombie no longer has).
func (t *Task) procTreeNode(info *ProcTreeInfo, rel string) (node ProcNode, found bool) {
	zombie := info.State == 'Z'
	comm := path.Base(info.Exe)
	if info.Exe == "" {
		comm = ""
	}
	if info.Comm != "" {
		comm = info.Comm
	}
	if len(comm) > abi.TASK_COMM_LEN-1 {
		comm = comm[:abi.TASK_COMM_LEN-1]
	}
	file := func(s string) (ProcNode, bool) { return ProcNode{Kind: ProcNodeFile, Data: []byte(s)}, true }
	// A thread directory of the process's one thread reads as the process.
	if rest, ok := strings.CutPrefix(rel, fmt.Sprintf("task/%d", info.Pid)); ok && (rest == "" || rest[0] == '/') {
		rel = strings.TrimPrefix(rest, "/")
		if rel == "" {
			return t.procTreeDir(false), true
		}
	}
	switch rel {
	case "":
		return t.procTreeDir(true), true
	case "task":
		return ProcNode{Kind: ProcNodeDir, Entries: []ProcDirent{{fmt.Sprint(info.Pid), abi.DT_DIR}}}, true
	case "fd", "fdinfo":
		return ProcNode{Kind: ProcNodeDir}, true
	case "net":
		return ProcNode{Kind: ProcNodeHost, Target: "/proc/self/net"}, true
	case "exe":
		if zombie || info.Exe == "" {
			return ProcNode{}, false
		}
		exe := info.Exe
		if r := t.root(); r != nil {
			if g, ok := r.GuestPath(exe); ok {
				exe = g
			}
		}
		return ProcNode{Kind: ProcNodeLink, Target: exe}, true
	case "root":
		if zombie {
			return ProcNode{}, false
		}
		return ProcNode{Kind: ProcNodeLink, Target: "/"}, true
	case "cwd":
		return ProcNode{}, false // only the process knows it
	case "status":
		return file(t.procTreeStatus(info, comm))
	case "stat":
		return file(procTreeStat(info, comm))
	case "statm":
		return file("0 0 0 0 0 0 0\n")
	case "comm":
		return file(comm + "\n")
	case "cmdline":
		if zombie {
			return file("")
		}
		return ProcNode{Kind: ProcNodeFile, Data: nulJoin(info.Argv)}, true
	}
	for _, f := range procPidFiles {
		if f == rel {
			return file("")
		}
	}
	return ProcNode{}, false
}

// procTreeDir lists a pid directory (withTask: the process's, which has
// task/) of a process that cannot answer.
func (t *Task) procTreeDir(withTask bool) ProcNode {
	n := ProcNode{Kind: ProcNodeDir}
	for _, l := range []string{"exe", "cwd", "root"} {
		n.Entries = append(n.Entries, ProcDirent{l, abi.DT_LNK})
	}
	for _, d := range procTreeDirs {
		if d != "task" || withTask {
			n.Entries = append(n.Entries, ProcDirent{d, abi.DT_DIR})
		}
	}
	for _, f := range procPidFiles {
		n.Entries = append(n.Entries, ProcDirent{f, abi.DT_REG})
	}
	return n
}

// procStateName is status's State value for a state letter.
func procStateName(s byte) string {
	switch s {
	case 'R':
		return "R (running)"
	case 'Z':
		return "Z (zombie)"
	case 'T':
		return "T (stopped)"
	}
	return "S (sleeping)"
}

// procTreeStatus is /proc/<pid>/status from the tree's record: the ids
// and state; a zombie has no memory lines, as on Linux.
func (t *Task) procTreeStatus(info *ProcTreeInfo, comm string) string {
	c := t.Proc.Creds()
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("Name:\t%s", statusName(comm))
	w("State:\t%s", procStateName(info.State))
	w("Tgid:\t%d", info.Pid)
	w("Ngid:\t0")
	w("Pid:\t%d", info.Pid)
	w("PPid:\t%d", info.Ppid)
	w("TracerPid:\t0")
	w("Uid:\t%d\t%d\t%d\t%d", c.RUID, c.EUID, c.SUID, c.FSUID)
	w("Gid:\t%d\t%d\t%d\t%d", c.RGID, c.EGID, c.SGID, c.FSGID)
	w("FDSize:\t0")
	w("Groups:\t")
	w("NStgid:\t%d", info.Pid)
	w("NSpid:\t%d", info.Pid)
	w("NSpgid:\t%d", info.Pgid)
	w("NSsid:\t%d", info.Sid)
	w("Threads:\t1")
	for _, k := range []string{"SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff"} {
		w("%s:\t%016x", k, 0)
	}
	w("CapBnd:\t%016x", uint64(1)<<41-1)
	w("CapAmb:\t%016x", 0)
	w("NoNewPrivs:\t0")
	w("Seccomp:\t0")
	w("voluntary_ctxt_switches:\t0")
	w("nonvoluntary_ctxt_switches:\t0")
	return b.String()
}

// procTreeStat is /proc/<pid>/stat from the tree's record (52 fields,
// the times and sizes zero).
func procTreeStat(info *ProcTreeInfo, comm string) string {
	return fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 "+
		"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		info.Pid, comm, info.State, info.Ppid, info.Pgid, info.Sid)
}
