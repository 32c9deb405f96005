package supervisor

import (
	"strings"
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// snapStatus is a status file as the kernel renders it, trimmed: SIGUSR2
// blocked, SIGINT ignored, SIGTERM caught.
const snapStatus = "Name:\tjob\nState:\tT (stopped)\nSigQ:\t0/100\nSigPnd:\t0000000000000000\n" +
	"ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000800\nSigIgn:\t0000000000000002\n" +
	"SigCgt:\t0000000000004000\nCapInh:\t0000000000000000\n"

// snapTarget answers a Snapshot query as pid 2's guestproc would, and
// fails any other (a stopped guestproc cannot answer).
func snapTarget(t *testing.T) func(s *supervisor, q ipc.ProcQuery) {
	return func(s *supervisor, q ipc.ProcQuery) {
		if !q.Snapshot || q.Tree == nil || q.Tree.State != 'T' {
			t.Errorf("query %+v, want a snapshot asked with state T", q)
			return
		}
		s.procAnswered(2, ipc.ProcAnswer{ID: q.ID, Snapshot: &ipc.ProcSnapshot{Nodes: []ipc.ProcSnapNode{
			{Rel: "status", Node: ipc.ProcAnswer{Data: []byte(snapStatus)}},
			{Rel: "fd", Node: ipc.ProcAnswer{Kind: ipc.ProcDir, Entries: []ipc.ProcDirent{{Name: "3", Type: abi.DT_LNK}}}},
			{Rel: "fd/3", Node: ipc.ProcAnswer{Kind: ipc.ProcLink, Target: "/etc/hostname"}},
		}}})
	}
}

func TestStoppedProcessAnswersFromItsSnapshot(t *testing.T) {
	s := procTestTree(t, snapTarget(t))
	s.mu.Lock()
	g := s.gps[2]
	s.mu.Unlock()
	s.askSnapshot(g) // as another process's SIGSTOP does, before the stop
	s.tree.Stopped(2, abi.SIGSTOP)
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "fd/3"}); a.Kind != ipc.ProcLink || a.Target != "/etc/hostname" {
		t.Errorf("fd/3 = %+v, want the snapshot's link", a)
	}
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "fd"}); len(a.Entries) != 1 || a.Entries[0].Name != "3" {
		t.Errorf("fd = %+v, want the snapshot's directory", a)
	}
	// Its first thread's files are the process's.
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "task/2/fd/3"}); a.Target != "/etc/hostname" {
		t.Errorf("task/2/fd/3 = %+v, want the snapshot's link", a)
	}
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "task/3/fd/3"}); a.Tree == nil {
		t.Errorf("task/3/fd/3 = %+v, want the tree's record (not the first thread)", a)
	}
	// What it lacks is the tree's record, as before.
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "task"}); a.Tree == nil || a.Tree.State != 'T' {
		t.Errorf("task = %+v, want the tree's record", a)
	}
	// Sent while stopped: pending unless Linux would discard it.
	s.snapshotSignal(2, abi.SIGUSR1, false) // default action: pending
	s.snapshotSignal(2, abi.SIGINT, false)  // ignored: discarded
	s.snapshotSignal(2, abi.SIGCHLD, false) // ignored by default: discarded
	s.snapshotSignal(2, abi.SIGUSR2, false) // blocked: pending
	s.snapshotSignal(2, abi.SIGTERM, true)  // caught, to the thread: SigPnd
	s.snapshotSignal(2, abi.SIGCONT, false) // continues it: never pending
	a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "status"})
	for _, want := range []string{"SigPnd:\t0000000000004000\n", "ShdPnd:\t0000000000000a00\n", "SigBlk:\t0000000000000800\n", "CapInh:"} {
		if !strings.Contains(string(a.Data), want) {
			t.Errorf("status lacks %q:\n%s", want, a.Data)
		}
	}
	if len(a.Data) != len(snapStatus) {
		t.Errorf("status is %d bytes, want %d (masks patched in place)", len(a.Data), len(snapStatus))
	}
	// Continued, it answers for itself again, and a later stop takes a
	// new snapshot: the continue drops this one.
	s.dropSnapshot(2)
	if a := s.procAnswer(1, ipc.ProcQuery{Pid: 2, Rel: "fd/3"}); a.Tree == nil {
		t.Errorf("fd/3 without the snapshot = %+v, want the tree's record", a)
	}
}

func TestSnapshotIsKeptOnlyWhileItHasNodes(t *testing.T) {
	s := newSupervisor(Config{MaxProcs: 8}, nil)
	s.keepSnapshot(3, &ipc.ProcSnapshot{Nodes: []ipc.ProcSnapNode{{Rel: "comm", Node: ipc.ProcAnswer{Data: []byte("x\n")}}}})
	if _, ok := s.snapshotAnswer(3, "comm"); !ok {
		t.Fatal("snapshot not kept")
	}
	s.keepSnapshot(3, &ipc.ProcSnapshot{}) // an empty one replaces it
	if _, ok := s.snapshotAnswer(3, "comm"); ok {
		t.Error("an empty snapshot left the old one in place")
	}
}

func TestStatusMaskRoundTrip(t *testing.T) {
	if got := statusMask([]byte(snapStatus), "SigCgt"); got != 0x4000 {
		t.Errorf("SigCgt = %#x", got)
	}
	if got := statusMask([]byte(snapStatus), "Missing"); got != 0 {
		t.Errorf("missing key = %#x", got)
	}
	out := orStatusMask([]byte(snapStatus), "ShdPnd", 0x200)
	if statusMask(out, "ShdPnd") != 0x200 || statusMask(out, "SigBlk") != 0x800 {
		t.Errorf("after or:\n%s", out)
	}
	if string(orStatusMask([]byte(snapStatus), "ShdPnd", 0)) != snapStatus {
		t.Error("or of nothing changed the file")
	}
}

func TestDumpShowsAStoppedProcessAsItStopped(t *testing.T) {
	s := procTestTree(t, nil)
	s.tree.SetHostPid(1, 4241)
	desc := &ipc.Description{Exe: "/bin/job", Argv: []string{"job"}, Cwd: "/work",
		Threads: []ipc.ThreadDesc{{Tid: 2, Blocked: 1 << (abi.SIGUSR2 - 1), Syscall: "read", SyscallNs: 5e6}},
		FDs:     []ipc.FDDesc{{FD: 0, Target: "/dev/null"}},
		Regions: []ipc.RegionDesc{{Start: 0x400000, End: 0x401000, Perms: "r-xp", Name: "/bin/job"}}}
	s.keepSnapshot(2, &ipc.ProcSnapshot{Nodes: []ipc.ProcSnapNode{{Rel: "status", Node: ipc.ProcAnswer{Data: []byte(snapStatus)}}},
		Description: desc})
	s.tree.Stopped(2, abi.SIGSTOP)
	s.snapshotSignal(2, abi.SIGUSR1, false)
	var p DumpProc
	for _, d := range s.Dump() {
		if d.Pid == 2 {
			p = d
		}
	}
	if p.State != "stopped" || p.Error != "" || p.Cwd != "/work" || len(p.FDs) != 1 || len(p.Regions) != 1 {
		t.Fatalf("stopped process = %+v, want its description as it stopped", p)
	}
	if len(p.Threads) != 1 || p.Threads[0].State != "stopped" || p.Threads[0].Syscall != "read" || p.Threads[0].SyscallMs != 0 {
		t.Errorf("threads = %+v, want one stopped in read", p.Threads)
	}
	if strings.Join(p.Pending, ",") != "SIGUSR1" || strings.Join(p.Blocked, ",") != "SIGUSR2" {
		t.Errorf("pending %v blocked %v, want SIGUSR1 sent while stopped and SIGUSR2", p.Pending, p.Blocked)
	}
	var b strings.Builder
	if err := WriteDumpText(&b, []DumpProc{p}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "tid 2  stopped in syscall read  blocked SIGUSR2") {
		t.Errorf("text dump:\n%s", b.String())
	}
	desc.Cwd = "/elsewhere" // the kept one is its own copy
	if d, _ := s.stoppedDescription(2); d.Cwd != "/work" {
		t.Errorf("kept description changed with the caller's: %+v", d)
	}
}
