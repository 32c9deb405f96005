package kernel

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// The synthetic /proc tree (see synth.go). The guest's own /proc/<pid> is
// served here; other guest pids' come from their own processes through
// the supervisor (procpid.go).

// procHostFiles are /proc files whose content is the host's, read at open
// (the guest runs on the host's CPUs, memory and kernel).
var procHostFiles = []string{"cpuinfo", "meminfo", "stat", "uptime", "loadavg", "version", "filesystems",
	"cmdline", "swaps", "diskstats", "partitions", "vmstat", "zoneinfo", "buddyinfo", "interrupts", "devices",
	"crypto", "modules", "misc", "kallsyms", "cgroups", "softirqs", "pagetypeinfo"}

// procPidFiles are the files of /proc/<pid> (and of its task/<tid>).
var procPidFiles = []string{"maps", "smaps", "smaps_rollup", "status", "stat", "statm", "cmdline", "environ",
	"auxv", "comm", "mounts", "mountinfo", "limits", "cgroup", "oom_score", "oom_score_adj", "oom_adj",
	"loginuid", "sessionid", "wchan", "personality", "io", "timerslack_ns"}

// guestPid is the process's guest-visible pid.
func (t *Task) guestPid() int32 {
	if t.Proc.Kernel == nil || t.Proc.Kernel.Host == nil {
		return t.Tid
	}
	return t.Proc.Kernel.Host.Pid()
}

// guestTids lists the process's thread ids.
func (t *Task) guestTids() []int32 {
	s := t.Proc.sigHandlers()
	s.mu.Lock()
	tids := []int32{}
	for tt := range s.tasks {
		tids = append(tids, tt.Tid)
	}
	s.mu.Unlock()
	if len(tids) == 0 {
		tids = append(tids, t.Tid)
	}
	return tids
}

// hasTid reports whether tid is one of the process's threads.
func (t *Task) hasTid(tid int32) bool {
	for _, x := range t.guestTids() {
		if x == tid {
			return true
		}
	}
	return false
}

// procList lists /proc and the directories below it.
func (t *Task) procList(n *synthNode) []synthDirent {
	parts := strings.Split(strings.TrimPrefix(n.path, "/proc"), "/")
	if n.path == "/proc" {
		return t.procRootList(true)
	}
	// parts[0] is "", parts[1] the pid.
	switch {
	case len(parts) == 2 || len(parts) == 4 && parts[2] == "task":
		ents := []synthDirent{{"exe", abi.DT_LNK}, {"cwd", abi.DT_LNK}, {"root", abi.DT_LNK},
			{"fd", abi.DT_DIR}, {"fdinfo", abi.DT_DIR}, {"net", abi.DT_DIR}, {"ns", abi.DT_DIR}}
		if len(parts) == 2 {
			ents = append(ents, synthDirent{"task", abi.DT_DIR})
		}
		for _, f := range procPidFiles {
			ents = append(ents, synthDirent{f, abi.DT_REG})
		}
		return ents
	case len(parts) == 3 && parts[2] == "task":
		var ents []synthDirent
		for _, tid := range t.guestTids() {
			ents = append(ents, synthDirent{strconv.Itoa(int(tid)), abi.DT_DIR})
		}
		return ents
	case parts[len(parts)-1] == "fdinfo":
		var ents []synthDirent
		for _, e := range t.Proc.FDs.Entries() {
			ents = append(ents, synthDirent{strconv.Itoa(int(e.FD)), abi.DT_REG})
		}
		return ents
	case parts[len(parts)-1] == "ns":
		var ents []synthDirent
		hs, _ := os.ReadDir("/proc/self/ns")
		for _, e := range hs {
			ents = append(ents, synthDirent{e.Name(), abi.DT_LNK})
		}
		return ents
	}
	return nil
}

// procRootList lists /proc; withPids adds every pid of the tree (the
// supervisor's list), else only the process's own.
func (t *Task) procRootList(withPids bool) []synthDirent {
	ents := []synthDirent{{"self", abi.DT_LNK}, {"thread-self", abi.DT_LNK},
		{"sys", abi.DT_DIR}, {"net", abi.DT_LNK}, {"mounts", abi.DT_LNK}}
	pids := []int32{t.guestPid()}
	if withPids {
		pids = t.procPids()
	}
	for _, pid := range pids {
		ents = append(ents, synthDirent{strconv.Itoa(int(pid)), abi.DT_DIR})
	}
	for _, f := range procHostFiles {
		if _, err := os.Stat("/proc/" + f); err == nil {
			ents = append(ents, synthDirent{f, abi.DT_REG})
		}
	}
	return ents
}

// procMake builds the node for entry name of /proc directory n (a name
// procList gave).
func (t *Task) procMake(n *synthNode, name string) *synthNode {
	p := n.path + "/" + name
	pid := strconv.Itoa(int(t.guestPid()))
	file := func(gen func(t *Task) ([]byte, error)) *synthNode {
		return &synthNode{path: p, kind: synthFile, perm: 0o444, gen: gen}
	}
	link := func(target string) *synthNode {
		return &synthNode{path: p, kind: synthLink, perm: 0o777, target: target}
	}
	dir := func() *synthNode { return &synthNode{path: p, kind: synthDir, perm: 0o555} }
	if n.path == "/proc" {
		switch name {
		case "self":
			return link(pid)
		case "thread-self":
			return link(pid + "/task/" + strconv.Itoa(int(t.Tid)))
		case pid:
			return dir()
		case "sys":
			return &synthNode{path: p, kind: synthHost, host: "/proc/sys"}
		case "net":
			return link("self/net")
		case "mounts":
			return link("self/mounts")
		}
		return file(hostFile("/proc/" + name))
	}
	parts := strings.Split(strings.TrimPrefix(n.path, "/proc/"), "/")
	if len(parts) == 2 && parts[1] == "task" {
		return dir() // a tid procList listed
	}
	if parts[len(parts)-1] == "fdinfo" {
		fd, _ := strconv.Atoi(name)
		return file(func(t *Task) ([]byte, error) { return t.procFdinfo(int32(fd)) })
	}
	if parts[len(parts)-1] == "ns" {
		// Every guestproc of the tree is in its supervisor's
		// namespaces (--net none's network one included): the host's
		// links of this one, as a chroot shows them. The guest's pid
		// numbers are the supervisor's, but no namespace of the host
		// stands for them: pid is the host's too, the same for every
		// process of the tree, as one namespace.
		if _, err := os.Lstat("/proc/self/ns/" + name); err != nil {
			return nil
		}
		return &synthNode{path: p, kind: synthHost, host: "/proc/self/ns/" + name}
	}
	switch name {
	case "exe":
		exe := t.exeLink()
		if exe == "" {
			return nil
		}
		return link(exe)
	case "cwd":
		cwd, err := t.guestCwd()
		if err != nil {
			return nil
		}
		return link(cwd)
	case "root":
		return link("/")
	case "fd":
		// The fd directory and its magic links are the resolver's
		// (fd_dir.go, magicPath): hand the walk over to them.
		return &synthNode{path: p, kind: synthRedirect, target: "/proc/self/fd"}
	case "fdinfo", "task":
		return dir()
	case "ns":
		return &synthNode{path: p, kind: synthDir, perm: nsDirPerm}
	case "net":
		return &synthNode{path: p, kind: synthHost, host: "/proc/self/net"}
	}
	if len(parts) == 3 && parts[1] == "task" {
		if tid, err := strconv.Atoi(parts[2]); err == nil {
			if name == "comm" {
				return commNode(p, int32(tid)) // procfs_comm.go
			}
			if gen := procTaskGen(name, int32(tid)); gen != nil { // thread_procfs.go
				return file(gen)
			}
		}
	}
	if name == "comm" {
		return commNode(p, 0)
	}
	if name == "oom_score_adj" || name == "oom_adj" {
		return oomNode(p, name == "oom_adj") // procfs_oom.go
	}
	if gen := procPidGen(name); gen != nil {
		return file(gen)
	}
	return nil
}

// nsDirPerm is /proc/PID/ns's mode on Linux, dr-x--x--x.
const nsDirPerm = 0o511

// hostFile returns a generator reading host file p.
func hostFile(p string) func(*Task) ([]byte, error) {
	return func(*Task) ([]byte, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, abi.ENOENT
		}
		return b, nil
	}
}

// constFile returns a generator of fixed text.
func constFile(s string) func(*Task) ([]byte, error) {
	return func(*Task) ([]byte, error) { return []byte(s), nil }
}

// procPidGen returns the generator of /proc/<pid>/name.
func procPidGen(name string) func(*Task) ([]byte, error) {
	switch name {
	case "maps":
		return func(t *Task) ([]byte, error) { return []byte(t.procMaps()), nil }
	case "smaps":
		return func(t *Task) ([]byte, error) { return []byte(t.procSmaps(false)), nil }
	case "smaps_rollup":
		return func(t *Task) ([]byte, error) { return []byte(t.procSmaps(true)), nil }
	case "status":
		return func(t *Task) ([]byte, error) { return []byte(t.procStatus(t.ownView())), nil }
	case "stat":
		return func(t *Task) ([]byte, error) { return []byte(t.procStat(t.ownView())), nil }
	case "statm":
		return func(t *Task) ([]byte, error) { return []byte(t.procStatm()), nil }
	case "cmdline":
		return func(t *Task) ([]byte, error) { return nulJoin(t.Proc.Argv), nil }
	case "environ":
		return func(t *Task) ([]byte, error) { return nulJoin(t.Proc.Envp), nil }
	case "auxv":
		return func(t *Task) ([]byte, error) { return procAuxv(t.Proc.Auxv), nil }
	case "comm":
		return func(t *Task) ([]byte, error) { return []byte(t.Proc.Comm() + "\n"), nil }
	case "mounts":
		return func(t *Task) ([]byte, error) { return t.procMounts(false) }
	case "mountinfo":
		return func(t *Task) ([]byte, error) { return t.procMounts(true) }
	case "limits":
		return func(t *Task) ([]byte, error) { return []byte(t.procLimits()), nil }
	case "cgroup":
		// Every guestproc of the tree is in the cgroup of the
		// supervisor that started it: the host's answer for this one.
		return func(*Task) ([]byte, error) { return os.ReadFile("/proc/self/cgroup") }
	case "oom_score":
		return constFile("0\n")
	case "loginuid":
		return constFile("4294967295")
	case "sessionid":
		return constFile("4294967295")
	case "wchan":
		return constFile("0")
	case "personality":
		return func(t *Task) ([]byte, error) {
			return []byte(strconv.FormatUint(uint64(t.Proc.State().Personality), 16) + "\n"), nil
		}
	case "io":
		return constFile("rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n")
	case "timerslack_ns":
		return func(t *Task) ([]byte, error) {
			return []byte(strconv.FormatUint(t.Proc.State().TimerSlackNs, 10) + "\n"), nil
		}
	}
	return nil
}

// nulJoin joins strings each followed by a NUL, as cmdline and environ.
func nulJoin(ss []string) []byte {
	var b []byte
	for _, s := range ss {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

// procAuxv encodes the auxiliary vector, AT_NULL-terminated.
func procAuxv(aux []AuxEntry) []byte {
	b := make([]byte, 0, 16*(len(aux)+1))
	for _, e := range aux {
		if e.Key == 0 {
			break
		}
		b = binary.LittleEndian.AppendUint64(b, e.Key)
		b = binary.LittleEndian.AppendUint64(b, e.Val)
	}
	return append(b, make([]byte, 16)...)
}

// procFdinfo is /proc/<pid>/fdinfo/<fd>: the host's record of the
// descriptor (pos, flags, mnt_id, ino...).
func (t *Task) procFdinfo(fd int32) ([]byte, error) {
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return nil, abi.ENOENT
	}
	defer f.Release()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(f.FD()))
	if err != nil {
		return nil, abi.ENOENT
	}
	if f.sigfd != nil {
		b = t.signalfdFdinfo(b, f.sigfd)
	}
	if f.pidfd != nil {
		b = t.pidfdFdinfo(b, f.pidfd) // sys_pidfd_proc.go
	}
	if cloexec, err := t.Proc.FDs.GetCloexec(fd); err == nil {
		b = fixFdinfoCloexec(b, cloexec)
	}
	return b, nil
}

// fixFdinfoCloexec sets the O_CLOEXEC bit of fdinfo's octal flags line to
// the guest's (the host descriptor is always close-on-exec).
func fixFdinfoCloexec(b []byte, cloexec bool) []byte {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		v, ok := strings.CutPrefix(l, "flags:\t")
		if !ok {
			continue
		}
		f, err := strconv.ParseUint(v, 8, 64)
		if err != nil {
			break
		}
		f &^= unix.O_CLOEXEC
		if cloexec {
			f |= unix.O_CLOEXEC
		}
		lines[i] = "flags:\t0" + strconv.FormatUint(f, 8)
	}
	return []byte(strings.Join(lines, "\n"))
}
