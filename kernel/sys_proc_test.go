package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// treeTestHost is a fake process tree: wait results come from a queue,
// kills and forks are recorded.
type treeTestHost struct {
	sigTestHost
	mu      sync.Mutex
	results []WaitResult
	echild  bool
	events  chan struct{}
	kills   []int32
	self    bool
	forked  *ForkImage
	forkFDs []int
	// child, when set, starts the fork child before Fork returns.
	child func(img *ForkImage, fds []int)
}

func newTreeTestHost() *treeTestHost {
	return &treeTestHost{sigTestHost: sigTestHost{pid: 100}, events: make(chan struct{})}
}

func (h *treeTestHost) Fork(job *ForkJob) (int32, error) {
	img, fds, err := job.Build()
	if err != nil {
		return 0, err
	}
	// Keep duplicates: the real host sends them before Fork returns, and
	// the caller then closes its snapshot descriptors.
	h.forked, h.forkFDs = img, nil
	for _, fd := range fds {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return 0, err
		}
		h.forkFDs = append(h.forkFDs, d)
	}
	if h.child != nil {
		// The real host returns once the child has copied the memory.
		h.child(img, h.forkFDs)
	}
	return 101, nil
}

func (h *treeTestHost) Wait(pid int32, options int32) (WaitResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.echild {
		return WaitResult{}, abi.ECHILD
	}
	if len(h.results) == 0 {
		return WaitResult{}, nil
	}
	r := h.results[0]
	h.results = h.results[1:]
	return r, nil
}

func (h *treeTestHost) ChildEvents() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.events
}

// childExits queues a result and wakes waiters, as the supervisor's child
// event does.
func (h *treeTestHost) childExits(r WaitResult) {
	h.mu.Lock()
	h.results = append(h.results, r)
	close(h.events)
	h.events = make(chan struct{})
	h.mu.Unlock()
}

func (h *treeTestHost) Kill(pid, tgid int32, thread bool, info *abi.Siginfo) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kills = append(h.kills, pid)
	return h.self, nil
}

func newTreeTestEnv(t *testing.T) (*sigTestEnv, *treeTestHost) {
	e := newSigTestEnv(t)
	h := newTreeTestHost()
	e.t.Proc.Kernel.Host = h
	return e, h
}

func TestWait4ReportsStatusAndUsage(t *testing.T) {
	e, h := newTreeTestEnv(t)
	h.childExits(WaitResult{Pid: 7, Status: 3 << 8, Code: abi.CLD_EXITED,
		Rusage: abi.Rusage{Utime: abi.Timeval{Sec: 2}}})
	status := testScratch + 0x100
	if rax := e.syscall(abi.SYS_WAIT4, ^uint64(0), uint64(status), 0, 0); rax != 7 {
		t.Fatalf("wait4 = %d, want 7", int64(rax))
	}
	if got := binary.LittleEndian.Uint32(e.read(t, status, 4)); got != 3<<8 {
		t.Fatalf("status %#x, want %#x", got, 3<<8)
	}
	if u := e.t.Proc.ChildUsage(); u.Utime.Sec != 2 {
		t.Fatalf("RUSAGE_CHILDREN utime %d s, want 2", u.Utime.Sec)
	}
}

func TestWait4WithoutNewsAndWithoutChildren(t *testing.T) {
	tests := []struct {
		name   string
		echild bool
		want   uint64
	}{
		{"WNOHANG with running children returns 0", false, 0},
		{"no children at all is ECHILD", true, errno(abi.ECHILD)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newTreeTestEnv(t)
			h.echild = tc.echild
			if rax := e.syscall(abi.SYS_WAIT4, ^uint64(0), 0, abi.WNOHANG, 0); rax != tc.want {
				t.Fatalf("wait4 = %d, want %d", int64(rax), int64(tc.want))
			}
		})
	}
}

func TestWait4RejectsUnknownOptions(t *testing.T) {
	e, _ := newTreeTestEnv(t)
	if rax := e.syscall(abi.SYS_WAIT4, ^uint64(0), 0, 0x100, 0); rax != errno(abi.EINVAL) {
		t.Fatalf("wait4 = %d, want EINVAL", int64(rax))
	}
}

func TestWait4WithoutATreeIsECHILD(t *testing.T) {
	e := newSigTestEnv(t)
	if rax := e.syscall(abi.SYS_WAIT4, ^uint64(0), 0, 0, 0); rax != errno(abi.ECHILD) {
		t.Fatalf("wait4 = %d, want ECHILD", int64(rax))
	}
}

func TestBlockingWait4WakesAtAChildEvent(t *testing.T) {
	e, h := newTreeTestEnv(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		h.childExits(WaitResult{Pid: 9, Status: 0, Code: abi.CLD_EXITED})
	}()
	if rax := e.syscall(abi.SYS_WAIT4, 9, 0, 0, 0); rax != 9 {
		t.Fatalf("wait4 = %d, want 9", int64(rax))
	}
}

func TestBlockingWait4IsInterruptedBySignals(t *testing.T) {
	tests := []struct {
		name    string
		flags   uint64
		restart bool
	}{
		{"handler without SA_RESTART: EINTR", 0, false},
		{"handler with SA_RESTART: restarted", abi.SA_RESTART, true},
	}
	for _, raw := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprint(tc.name, " raw=", raw), func(t *testing.T) {
				testWait4Interrupted(t, raw, tc.flags, tc.restart)
			})
		}
	}
}

// testWait4Interrupted blocks in wait4 until SIGUSR1, handled with flags,
// comes in; raw makes the host offer a child-event descriptor, so that the
// wait is a raw ppoll on it (sys_proc_wait_raw.go).
func testWait4Interrupted(t *testing.T, raw bool, flags uint64, restart bool) {
	var e *sigTestEnv
	var fh *treeFDTestHost
	if raw {
		e, fh = newTreeFDTestEnv(t)
	} else {
		e, _ = newTreeTestEnv(t)
	}
	e.sigaction(t, abi.SIGUSR1, abi.Sigaction{Handler: testHandler, Flags: abi.SA_RESTORER | flags,
		Restorer: testRestorer})
	go func() {
		time.Sleep(20 * time.Millisecond)
		e.t.Proc.SignalFrom(&abi.Siginfo{Signo: abi.SIGUSR1}, false)
	}()
	e.cpu.regs.RIP = testSyscallRIP
	e.syscall(abi.SYS_WAIT4, ^uint64(0), 0, 0, 0)
	if e.cpu.regs.RIP != uint64(testHandler) {
		t.Fatalf("handler not entered: rip %#x", e.cpu.regs.RIP)
	}
	// The interrupted syscall's outcome is in the frame's saved context;
	// the restart rewinds its RIP by the SYSCALL size.
	rax, rip := e.frameMcontext(t)
	if restart {
		if rip != testSyscallRIP-2 || rax != abi.SYS_WAIT4 {
			t.Fatalf("not restarted: rip %#x rax %d", rip, int64(rax))
		}
	} else if rax != errno(abi.EINTR) {
		t.Fatalf("rax %d, want EINTR", int64(rax))
	}
	if raw && fh.asked.Load() == 0 {
		t.Error("the wait never asked for the child-event descriptor")
	}
}

func TestCloneRejectsWhatProcessesCannotDo(t *testing.T) {
	tests := []struct {
		name  string
		flags uint64
		want  abi.Errno
	}{
		{"threads are not there yet", abi.CLONE_VM | abi.CLONE_SIGHAND | abi.CLONE_THREAD, abi.ENOSYS},
		{"shared memory without vfork", abi.CLONE_VM, abi.EINVAL},
		{"shared handlers without shared memory", abi.CLONE_SIGHAND, abi.EINVAL},
		{"namespaces need privilege", abi.CLONE_NEWPID, abi.EPERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newTreeTestEnv(t)
			if rax := e.syscall(abi.SYS_CLONE, tc.flags|abi.SIGCHLD, 0, 0, 0, 0); rax != errno(tc.want) {
				t.Fatalf("clone(%#x) = %d, want %d", tc.flags, int64(rax), -int(tc.want))
			}
		})
	}
}

func TestForkWithoutATreeIsENOSYS(t *testing.T) {
	e := newSigTestEnv(t)
	if rax := e.syscall(abi.SYS_FORK); rax != errno(abi.ENOSYS) {
		t.Fatalf("fork = %d, want ENOSYS", int64(rax))
	}
}

func TestKillOfAnotherProcessGoesThroughTheTree(t *testing.T) {
	tests := []struct {
		name   string
		pid    int32
		self   bool
		queued bool
	}{
		{"another pid", 55, false, false},
		{"own group includes the caller", 0, true, true},
		{"everyone", -1, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newTreeTestEnv(t)
			h.self = tc.self
			e.sigaction(t, abi.SIGUSR2, abi.Sigaction{Handler: abi.SIG_IGN})
			// Blocked, so an ignored signal stays pending where we can see it.
			e.t.SigMask = uint64(abi.SigSetOf(abi.SIGUSR2))
			if rax := e.syscall(abi.SYS_KILL, uint64(uint32(tc.pid)), abi.SIGUSR2); rax != 0 {
				t.Fatalf("kill = %d", int64(rax))
			}
			if len(h.kills) != 1 || h.kills[0] != tc.pid {
				t.Fatalf("tree saw kills %v, want [%d]", h.kills, tc.pid)
			}
			if got := e.t.PendingSignals().Has(abi.SIGUSR2); got != tc.queued {
				t.Fatalf("pending here = %v, want %v", got, tc.queued)
			}
		})
	}
}

func TestKillOfSelfStaysLocal(t *testing.T) {
	e, h := newTreeTestEnv(t)
	e.t.SigMask = uint64(abi.SigSetOf(abi.SIGUSR2))
	if rax := e.syscall(abi.SYS_KILL, 100, abi.SIGUSR2); rax != 0 {
		t.Fatalf("kill = %d", int64(rax))
	}
	if len(h.kills) != 0 {
		t.Fatalf("a signal to self reached the tree: %v", h.kills)
	}
}

// TestForkImageRebuildsTheProcess forks a process with a real MM on a fake
// machine and rebuilds it from the image: memory is a copy, registers are
// the parent's with RAX 0, descriptors and dispositions carry over.
func TestForkImageRebuildsTheProcess(t *testing.T) {
	old := forkAddrLimit
	forkAddrLimit = testLimit
	defer func() { forkAddrLimit = old }()

	task, m := newMMTask(t)
	h := newTreeTestHost()
	task.Proc.Kernel = &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Host: h, Backend: &fakeBackend{}}
	const flags = abi.MAP_PRIVATE | abi.MAP_ANONYMOUS | abi.MAP_FIXED
	addr, err := m.Mmap(0x10000000, 8192, abi.PROT_READ|abi.PROT_WRITE, flags, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.CopyOut(addr, []byte("parent"))
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	fd, _ := task.Proc.FDs.Install(p[1], true, 5)
	task.Proc.sigHandlers().actions[abi.SIGUSR1-1] = abi.Sigaction{Handler: abi.SIG_IGN}
	ck := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Host: &sigTestHost{pid: 101}, Backend: &fakeBackend{}}
	var child *Task
	var childErr error
	h.child = func(img *ForkImage, fds []int) {
		child, childErr = ck.StartForked(img, fds, nil, func() error { return nil }, nil)
	}
	// fork ignores its arguments: RDI shows that the child gets the
	// parent's registers.
	if rax := doSyscall(task, abi.SYS_FORK, 0x1234); rax != 101 {
		t.Fatalf("fork = %d, want the tree's pid 101", int64(rax))
	}
	img, fds := h.forked, h.forkFDs
	if img == nil {
		t.Fatal("the tree got no image")
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	m.CopyOut(addr, []byte("PARENT")) // after the fork: the child must not see it
	if childErr != nil {
		t.Fatal(childErr)
	}
	defer child.Proc.MM.Close()
	defer child.Proc.FDs.CloseAll()
	got := make([]byte, 6)
	child.Proc.MM.CopyIn(addr, got)
	if string(got) != "parent" {
		t.Fatalf("child memory %q, want the snapshot %q", got, "parent")
	}
	if r := child.CPU.Regs(); r.RAX != 0 || r.RDI != 0x1234 {
		t.Fatalf("child regs rax %d rdi %#x", r.RAX, r.RDI)
	}
	if cloexec, err := child.Proc.FDs.GetCloexec(fd); err != nil || !cloexec {
		t.Fatalf("child descriptor %d: cloexec %v, %v", fd, cloexec, err)
	}
	if a := child.Proc.Signals.Action(abi.SIGUSR1); a.Handler != abi.SIG_IGN {
		t.Fatalf("child SIGUSR1 disposition %#x, want SIG_IGN", a.Handler)
	}
	if _, err := child.Proc.FDs.Get(fd + 1); !errors.Is(err, abi.EBADF) {
		t.Fatalf("the child got a descriptor the parent did not have: %v", err)
	}
}
