package kernel

import (
	"slices"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// procTreeTestHost is a tree of processes in one test: lookups of a pid
// go to that process's ProcLookup, or to its tree record when it has no
// process (a zombie's).
type procTreeTestHost struct {
	fileTestHost
	pid   int32
	procs map[int32]*Process
	tree  map[int32]*ProcTreeInfo
}

func (h *procTreeTestHost) Pid() int32 { return h.pid }

func (h *procTreeTestHost) ProcPids() ([]int32, error) {
	var pids []int32
	for pid := range h.procs {
		pids = append(pids, pid)
	}
	for pid := range h.tree {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids, nil
}

func (h *procTreeTestHost) ProcRecord(pid int32) (*ProcTreeInfo, error) {
	if info := h.tree[pid]; info != nil {
		return info, nil
	}
	return &ProcTreeInfo{Pid: pid, Pgid: 7, Sid: 8}, nil
}

func (h *procTreeTestHost) ProcLookup(pid int32, rel string) (ProcNode, *ProcTreeInfo, error) {
	if p := h.procs[pid]; p != nil {
		n, err := p.ProcLookup(rel, &ProcTreeInfo{Pid: pid, Pgid: 7, Sid: 8})
		return n, nil, err
	}
	if info := h.tree[pid]; info != nil {
		return ProcNode{}, info, nil
	}
	return ProcNode{}, nil, abi.ESRCH
}

// procTreeTest makes a reader (pid 1) and a target (pid 2, argv
// "target -v", descriptor 5 open) in one tree, and a zombie pid 3.
func procTreeTest(t *testing.T) (reader *Task, mem *fileTestMem) {
	reader, mem = synthTestTask(t)
	target, _ := newFileTestTask(t)
	target.Tid = 2
	target.Proc.Exe = "/opt/guest/bin/target"
	target.Proc.Argv = []string{"target", "-v"}
	target.register()
	if _, err := fileSys(target, abi.SYS_DUP2, 0, 5); err != nil {
		t.Fatal(err)
	}
	tree := map[int32]*ProcTreeInfo{3: {Pid: 3, Ppid: 1, Pgid: 1, Sid: 1, State: 'Z', Exe: "/bin/gone", Comm: "renamed"}}
	procs := map[int32]*Process{2: target.Proc}
	reader.Proc.Kernel.Host = &procTreeTestHost{pid: 1, procs: procs, tree: tree}
	target.Proc.Kernel.Host = &procTreeTestHost{pid: 2, procs: procs, tree: tree}
	return reader, mem
}

func TestProcOtherPidFilesComeFromTheirProcess(t *testing.T) {
	task, mem := procTreeTest(t)
	if got := string(readAllGuest(t, task, mem, "/proc/2/cmdline")); got != "target\x00-v\x00" {
		t.Errorf("/proc/2/cmdline = %q", got)
	}
	status := string(readAllGuest(t, task, mem, "/proc/2/status"))
	for _, want := range []string{"Name:\ttarget\n", "Pid:\t2\n", "State:\tR (running)\n", "NSpgid:\t7\n", "NSsid:\t8\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/2/status lacks %q:\n%s", want, status)
		}
	}
	links := []struct {
		path, want string
		errno      abi.Errno
	}{
		{"/proc/2/exe", "/opt/guest/bin/target", 0},
		{"/proc/2/root", "/", 0},
		{"/proc/2/fd/5", "", 0}, // the target's fd 5 names what its fd 0 does
		{"/proc/2/fd/6", "", abi.ENOENT},
		{"/proc/3/exe", "", abi.ENOENT}, // a zombie has no image
		{"/proc/4/exe", "", abi.ENOENT},
	}
	for _, l := range links {
		got, errno := readlinkString(t, task, mem, l.path)
		if errno != l.errno || l.want != "" && got != l.want || l.errno == 0 && got == "" {
			t.Errorf("readlink %s = %q, errno %d; want %q, errno %d", l.path, got, errno, l.want, l.errno)
		}
	}
}

func TestProcZombieShowsTheTreeRecord(t *testing.T) {
	task, mem := procTreeTest(t)
	status := string(readAllGuest(t, task, mem, "/proc/3/status"))
	for _, want := range []string{"Name:\trenamed\n", "State:\tZ (zombie)\n", "PPid:\t1\n", "NSsid:\t1\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/3/status lacks %q:\n%s", want, status)
		}
	}
	if strings.Contains(status, "VmSize") {
		t.Errorf("a zombie's status shows memory:\n%s", status)
	}
	if got := string(readAllGuest(t, task, mem, "/proc/3/stat")); !strings.HasPrefix(got, "3 (renamed) Z 1 1 1 ") ||
		len(strings.Fields(got)) != 52 {
		t.Errorf("/proc/3/stat = %q", got)
	}
	if got := readAllGuest(t, task, mem, "/proc/3/cmdline"); len(got) != 0 {
		t.Errorf("a zombie's cmdline = %q, want empty", got)
	}
}

// listNames lists a directory in the guest.
func listNames(t *testing.T, task *Task, mem *fileTestMem, dir string) []string {
	t.Helper()
	fd := mustSys(t, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY, 0)
	defer fileSys(task, abi.SYS_CLOSE, fd)
	buf := mem.alloc(1 << 14)
	var names []string
	for {
		n := mustSys(t, task, abi.SYS_GETDENTS64, fd, uint64(buf), 1<<14)
		if n == 0 {
			return names
		}
		for name := range parseDirents(t, mem.bytesAt(buf, int(n)), false) {
			if name != "." && name != ".." {
				names = append(names, name)
			}
		}
	}
}

func TestProcListingShowsTheTree(t *testing.T) {
	task, mem := procTreeTest(t)
	var pids []string
	for _, name := range listNames(t, task, mem, "/proc") {
		if isPidName(name) {
			pids = append(pids, name)
		}
	}
	slices.Sort(pids)
	if want := []string{"1", "2", "3"}; !slices.Equal(pids, want) {
		t.Errorf("/proc lists pids %v, want %v", pids, want)
	}
	fds := listNames(t, task, mem, "/proc/2/fd")
	if !slices.Contains(fds, "5") || slices.Contains(fds, "6") {
		t.Errorf("/proc/2/fd lists %v, want the target's descriptors (5, not 6)", fds)
	}
	if got := listNames(t, task, mem, "/proc/2"); !slices.Contains(got, "status") || !slices.Contains(got, "exe") {
		t.Errorf("/proc/2 lists %v", got)
	}
}

func TestProcLookupRefusesWhatIsNotThere(t *testing.T) {
	task, _ := procTreeTest(t)
	for _, rel := range []string{"nonesuch", "fd/99", "fd/+1", "task/77/status", "status/x"} {
		if _, err := task.Proc.ProcLookup(rel, nil); err == nil {
			t.Errorf("ProcLookup(%q) succeeded", rel)
		}
	}
}
