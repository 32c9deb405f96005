package supervisor

import (
	"strings"
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

func TestWriteDumpTextNestsChildrenUnderParents(t *testing.T) {
	exit3 := uint32(3 << 8)
	killed := uint32(abi.SIGKILL)
	procs := []DumpProc{
		{Pid: 1, Ppid: 0, Pgid: 1, Sid: OutsideSession, HostPid: 100, State: "in syscall", Syscall: "wait4", SyscallMs: 12,
			Exe: "/bin/sh", Argv: []string{"sh", "-c", "sleep 1 & wait"}, Cwd: "/work",
			Threads: []DumpThread{{Tid: 1, State: "in syscall", Syscall: "wait4", SyscallMs: 12, Blocked: []string{"SIGCHLD"}}},
			FDs:     []ipc.FDDesc{{FD: 0, Target: "/dev/null"}, {FD: 3, Target: "pipe:[7]", CloseOnExec: true}},
			Regions: []ipc.RegionDesc{{Start: 0x400000, End: 0x401000, Perms: "r-xp", Name: "/bin/sh"}, {Start: 0x500000, End: 0x501000, Perms: "rw-p"}},
			Blocked: []string{"SIGCHLD"}},
		{Pid: 2, Ppid: 1, Pgid: 1, Sid: OutsideSession, HostPid: 101, State: "running", Exe: "/bin/sleep", Argv: []string{"sleep", "1"}},
		{Pid: 3, Ppid: 2, Pgid: 1, Sid: 3, State: "zombie", ExitStatus: &exit3, Argv: []string{"true"}},
		{Pid: 4, Ppid: 1, Pgid: 4, Sid: 3, State: "zombie", ExitStatus: &killed, Argv: []string{"x"}},
		{Pid: 5, Ppid: 1, Pgid: 5, Sid: 3, HostPid: 105, State: "stopped", Error: "stopped: no details"},
	}
	var b strings.Builder
	if err := WriteDumpText(&b, procs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"5 guest process(es)\n",
		"pid 1  ppid 0  pgid 1  sid outside  host pid 100  in syscall wait4 for 12 ms\n",
		"  argv  sh -c 'sleep 1 & wait'\n",
		"  cwd   /work\n",
		"  signals blocked SIGCHLD  pending -\n",
		"    tid 1  in syscall wait4 for 12 ms  blocked SIGCHLD  pending -\n",
		"    0 -> /dev/null\n",
		"    3 -> pipe:[7]  (cloexec)\n",
		"    00400000-00401000 r-xp 00000000 /bin/sh\n",
		"    00500000-00501000 rw-p 00000000\n",
		"\n    pid 2  ppid 1  pgid 1  sid outside  host pid 101  running\n",
		"\n        pid 3  ppid 2  pgid 1  sid 3  host pid 0  zombie (exit 3)\n",
		"\n    pid 4  ppid 1  pgid 4  sid 3  host pid 0  zombie (killed by SIGKILL)\n",
		"\n    pid 5  ppid 1  pgid 5  sid 3  host pid 105  stopped\n      (stopped: no details)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	// Depth-first order: 3 (child of 2) comes before 4.
	if i2, i3, i4 := strings.Index(out, "pid 2 "), strings.Index(out, "pid 3 "), strings.Index(out, "pid 4 "); !(i2 < i3 && i3 < i4) {
		t.Errorf("not depth-first (pid 2 at %d, 3 at %d, 4 at %d):\n%s", i2, i3, i4, out)
	}
	if i3, i4 := strings.Index(out, "pid 3 "), strings.Index(out, "pid 4 "); i3 >= 0 && i4 > i3 && strings.Contains(out[i3:i4], "fds") {
		t.Errorf("a zombie shows details:\n%s", out[i3:i4])
	}
}

func TestDumpProcFillTakesStateFromTheThreadInASyscall(t *testing.T) {
	tests := []struct {
		name        string
		threads     []ipc.ThreadDesc
		shared      abi.SigSet
		wantState   string
		wantSyscall string
		wantMs      int64
		wantBlocked []string
		wantPending []string
	}{
		{
			name:        "running guest code",
			threads:     []ipc.ThreadDesc{{Tid: 1, Blocked: uint64(abi.SigSetOf(abi.SIGINT))}},
			wantState:   "running",
			wantBlocked: []string{"SIGINT"},
			wantPending: []string{},
		},
		{
			name:        "second thread in a syscall",
			threads:     []ipc.ThreadDesc{{Tid: 1}, {Tid: 7, Syscall: "read", SyscallNs: 2_500_000, Pending: uint64(abi.SigSetOf(abi.SIGUSR1))}},
			shared:      abi.SigSetOf(abi.SIGTERM, abi.SIGRTMIN+2),
			wantState:   "in syscall",
			wantSyscall: "read",
			wantMs:      2,
			wantBlocked: []string{},
			wantPending: []string{"SIGUSR1", "SIGTERM", "SIGRTMIN+2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DumpProc{State: "running", Exe: "old", Argv: []string{"old"}}
			d.fill(ipc.Description{Exe: "/bin/new", Argv: []string{"new"}, Threads: tc.threads, Pending: uint64(tc.shared)})
			if d.State != tc.wantState || d.Syscall != tc.wantSyscall || d.SyscallMs != tc.wantMs {
				t.Errorf("state %q %q %d ms, want %q %q %d ms", d.State, d.Syscall, d.SyscallMs, tc.wantState, tc.wantSyscall, tc.wantMs)
			}
			if strings.Join(d.Blocked, ",") != strings.Join(tc.wantBlocked, ",") {
				t.Errorf("blocked %v, want %v", d.Blocked, tc.wantBlocked)
			}
			if strings.Join(d.Pending, ",") != strings.Join(tc.wantPending, ",") {
				t.Errorf("pending %v, want %v", d.Pending, tc.wantPending)
			}
			if d.Exe != "/bin/new" || d.Argv[0] != "new" || len(d.Threads) != len(tc.threads) {
				t.Errorf("fill kept the tree's image or lost threads: %+v", d)
			}
		})
	}
}
