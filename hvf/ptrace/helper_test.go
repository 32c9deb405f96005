package ptrace

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// withHelper makes the stubs the test starts have a helper thread or not,
// whatever ELFUSE_PTRACE_HELPER says.
func withHelper(t *testing.T, on bool) {
	old := helperOn
	helperOn = on
	t.Cleanup(func() { helperOn = old })
}

// taskStatus returns the value of field (say "TracerPid") in the stub
// thread's /proc status.
func taskStatus(t *testing.T, pid, tid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in the status of stub thread %d", field, tid)
	return ""
}

// TestHelperThreadIsUntracedUnfilteredAndDeaf: the helper is a thread of
// the stub no tracer stops, without the guest's seccomp filter (its own
// calls must pass), and blocking every signal (a signal meant for the
// stub must never run on its registers-only code); the guest's thread
// has the filter.
func TestHelperThreadIsUntracedUnfilteredAndDeaf(t *testing.T) {
	withHelper(t, true)
	g := newNotifyGuest(t, nil)
	m := g.m
	if m.hp.tid == 0 {
		t.Fatal("the stub has no helper thread")
	}
	if got := taskStatus(t, m.pid, m.hp.tid, "TracerPid"); got != "0" {
		t.Errorf("helper traced by %s", got)
	}
	if got := taskStatus(t, m.pid, m.hp.tid, "Seccomp"); got != "0" {
		t.Errorf("helper seccomp mode %s, want 0", got)
	}
	if got := taskStatus(t, m.pid, m.pid, "Seccomp"); got != "2" {
		t.Errorf("guest thread seccomp mode %s, want 2 (filter)", got)
	}
	// Every signal the kernel lets a thread block (not SIGKILL, SIGSTOP).
	if got := taskStatus(t, m.pid, m.hp.tid, "SigBlk"); got != "fffffffffffbfeff" {
		t.Errorf("helper blocks %s, want every blockable signal", got)
	}
}

// TestHelperMapsWhileHeldWithoutHalting: a Machine operation while a
// notification is held runs in the helper: the guest's thread stays in
// its notification (no halt), which is then answered as usual, and the
// guest sees the new mapping. Without the helper the same operation
// halts the stub first, as the counter shows, and the syscall still
// returns the kernel's RAX.
func TestHelperMapsWhileHeldWithoutHalting(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("helper=%v", on), func(t *testing.T) {
			withHelper(t, on)
			var a asm
			a.movEAX(39).syscall()
			a.storeRAX(dataAddr)
			a.loadRAX(extraAddr).storeRAX(dataAddr + 8).movEAX(39).syscall()
			g := newNotifyGuest(t, a.b)
			g.expectSyscall(39)
			g.setWord(extraAddr, 0x5eed)
			if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
				t.Fatal(err)
			}
			wantHalts := 0
			if !on {
				wantHalts = 1
			}
			if g.m.halts != wantHalts || g.m.nf.held != on {
				t.Fatalf("after the Map: %d halts, held %v; want %d, %v", g.m.halts, g.m.nf.held, wantHalts, on)
			}
			g.cpu.Regs().RAX = 5
			g.expectSyscall(39)
			if g.word(dataAddr) != 5 || g.word(dataAddr+8) != 0x5eed {
				t.Fatalf("guest stored %#x and %#x, want 5 and 0x5eed", g.word(dataAddr), g.word(dataAddr+8))
			}
		})
	}
}

// TestHelperSitesAreGuestSyscalls: guest code that jumps to one of the
// helper's syscall instructions makes an ordinary notification (the
// filter allows only the gadgets' sites), not a syscall of its own.
func TestHelperSitesAreGuestSyscalls(t *testing.T) {
	for _, site := range helperSites {
		addr := uint64(stubBase + site)
		g := newNotifyGuest(t, getpidAt(addr))
		ex := g.run()
		if ex.Reason != hvf.ExitSyscall || g.cpu.Regs().RAX != 39 || g.cpu.Regs().RIP != addr+2 {
			t.Fatalf("jump to helper site %#x: exit %+v rax %d rip %#x, want getpid's exit at %#x",
				site, ex, g.cpu.Regs().RAX, g.cpu.Regs().RIP, addr+2)
		}
	}
}

// TestHelperBatchResultsLinksAndErrors: a batch in the helper stores every
// result, passes a linked one on, and stops at the first error when asked.
func TestHelperBatchResultsLinksAndErrors(t *testing.T) {
	withHelper(t, true)
	g := newNotifyGuest(t, nil)
	m := g.m
	f, err := os.CreateTemp(t.TempDir(), "helper-map")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, pageSize))
	f.Close()
	path := []byte(f.Name() + "\x00")
	ents := []batchEntry{
		{nr: unix.SYS_OPENAT, args: [6]uint64{atFDCWD, batchStrings, unix.O_RDONLY | unix.O_CLOEXEC}},
		{nr: unix.SYS_MMAP, args: [6]uint64{extraAddr, pageSize, unix.PROT_READ, unix.MAP_SHARED | unix.MAP_FIXED, 0, 0}},
		{nr: unix.SYS_CLOSE},
		{nr: unix.SYS_CLOSE, args: [6]uint64{9999}},
		{nr: unix.SYS_MUNMAP, args: [6]uint64{extraAddr, pageSize}},
	}
	ents[1].linkArg(4, 0)
	ents[2].linkArg(0, 0)
	if !m.helperUsable(ents) {
		t.Fatal("the helper does not take a batch of mmap, openat and close")
	}
	ran, err := m.runBatch(ents, path, true)
	if err != nil || ran != 4 {
		t.Fatalf("runBatch = %d, %v; want 4 entries run (stop at the bad close)", ran, err)
	}
	if failed(ents[0].ret) || ents[1].ret != extraAddr || ents[2].ret != 0 || errnoOf(ents[3].ret) != unix.EBADF {
		t.Fatalf("results %#x %#x %#x %#x", ents[0].ret, ents[1].ret, ents[2].ret, ents[3].ret)
	}
	if got := stubMapping(t, m.pid, extraAddr); !strings.Contains(got, f.Name()) {
		t.Fatalf("stub mapping at %#x: %q, want %s", uint64(extraAddr), got, f.Name())
	}
	if _, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", m.pid, ents[0].ret)); err == nil {
		t.Errorf("stub descriptor %d still open: the linked close missed it", ents[0].ret)
	}
	if m.halts != 0 || m.gadgetRuns == 0 {
		t.Errorf("%d halts, %d runs", m.halts, m.gadgetRuns)
	}
	// Without stopping at errors every entry runs.
	ents = []batchEntry{{nr: unix.SYS_CLOSE, args: [6]uint64{9999}}, {nr: unix.SYS_MUNMAP, args: [6]uint64{extraAddr, pageSize}}}
	if ran, err := m.runBatch(ents, nil, false); err != nil || ran != 2 || ents[1].ret != 0 {
		t.Fatalf("runBatch without stopping = %d, %v, munmap %d", ran, err, int64(ents[1].ret))
	}
	if got := stubMapping(t, m.pid, extraAddr); got != "" {
		t.Fatalf("still mapped: %q", got)
	}
	// A call on the thread's own state stays with the guest's thread.
	if m.helperUsable([]batchEntry{{nr: unix.SYS_PRCTL}}) {
		t.Error("the helper would take a prctl")
	}
}
