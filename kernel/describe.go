package kernel

// Live descriptions of a process for `elfuse dump`. Describe runs on a
// goroutine other than the vCPU's (the guestproc's control reader) and never
// stops the guest: it takes the same locks as the syscalls do, briefly, and
// reads the syscall in progress from one atomic word the dispatcher writes.

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// syscallClock records the syscall a task is serving and when it began,
// packed in one word so a reader sees both from the same syscall: the low
// nrBits hold the number plus one (0: none), the rest the start in
// nanoseconds of the monotonic clock since clockBase (wrapping after about
// 100 days, which only garbles the duration shown). One monotonic clock
// read per syscall (tens of nanoseconds against a VM exit of microseconds)
// is the whole hot-path cost.
type syscallClock struct{ w atomic.Uint64 }

const nrBits = 11 // syscall numbers stay below 2047

var clockBase = time.Now()

func (c *syscallClock) enter(nr uint64) {
	if nr >= 1<<nrBits-1 {
		nr = 1<<nrBits - 2 // out of range numbers show as "unknown"
	}
	now := uint64(time.Since(clockBase))
	c.w.Store(now<<nrBits | (nr + 1))
}

func (c *syscallClock) leave() { c.w.Store(0) }

// current returns the syscall in progress and how long it has run.
func (c *syscallClock) current() (nr int64, d time.Duration, ok bool) {
	w := c.w.Load()
	if w == 0 {
		return -1, 0, false
	}
	start := w >> nrBits
	now := uint64(time.Since(clockBase)) & (1<<(64-nrBits) - 1)
	d = time.Duration((now - start) & (1<<(64-nrBits) - 1))
	return int64(w&(1<<nrBits-1)) - 1, d, true
}

// InSyscall reports the syscall the task is serving now (its number and
// for how long) or ok=false when it runs guest code. Safe from any
// goroutine.
func (t *Task) InSyscall() (nr int64, d time.Duration, ok bool) { return t.sys.current() }

// ProcessInfo describes a process at one moment, for dumps.
type ProcessInfo struct {
	Exe  string
	Argv []string
	// Cwd is the working directory as the guest sees it.
	Cwd     string
	Threads []ThreadInfo
	FDs     []FDInfo
	Maps    []MapInfo
	// Pending are the process-directed pending signals.
	Pending abi.SigSet
}

// ThreadInfo describes one thread.
type ThreadInfo struct {
	Tid     int32
	Blocked abi.SigSet
	// Pending are the thread-directed pending signals.
	Pending abi.SigSet
	// Syscall is the number of the syscall in progress (-1: none), for
	// SyscallTime so far.
	Syscall     int64
	SyscallName string
	SyscallTime time.Duration
}

// FDInfo describes one open descriptor.
type FDInfo struct {
	FD          int32
	CloseOnExec bool
	// Target is what it refers to: a guest path, or the host's name of a
	// pipe, socket or anonymous inode ("pipe:[123]").
	Target string
}

// Describe returns a description of p without stopping it. Threads are
// those that have entered the kernel once.
func (p *Process) Describe() ProcessInfo {
	var info ProcessInfo
	p.mu.Lock()
	info.Exe = p.Exe
	info.Argv = append([]string(nil), p.Argv...)
	mm := p.MM // replaced under p.mu by execve
	p.mu.Unlock()
	info.Cwd = p.describeCwd()
	if s := p.Signals; s != nil {
		s.mu.Lock()
		info.Pending = s.shared.set
		for t := range s.tasks {
			ti := ThreadInfo{Tid: t.Tid, Blocked: abi.SigSet(t.SigMask), Pending: t.SigState.pending.set, Syscall: -1}
			if nr, d, ok := t.InSyscall(); ok {
				ti.Syscall, ti.SyscallTime = nr, d
				ti.SyscallName = abi.SyscallName(uint64(nr))
				if ti.SyscallName == "" {
					ti.SyscallName = "syscall_" + strconv.FormatInt(nr, 10)
				}
			}
			info.Threads = append(info.Threads, ti)
		}
		s.mu.Unlock()
		sort.Slice(info.Threads, func(i, j int) bool { return info.Threads[i].Tid < info.Threads[j].Tid })
	}
	if p.FDs != nil {
		for _, e := range p.FDs.Entries() {
			info.FDs = append(info.FDs, FDInfo{FD: e.FD, CloseOnExec: e.CloseOnExec, Target: p.describeHostFD(e.Host)})
		}
	}
	if mm != nil {
		info.Maps = mm.Maps()
	}
	return info
}

func (p *Process) describeCwd() string {
	if cwd, ok := synthCwd(); ok {
		return cwd
	}
	if p.Kernel != nil && p.Kernel.Root != nil {
		cwd, err := p.Kernel.Root.Cwd()
		if err != nil {
			return "?"
		}
		return cwd
	}
	cwd, err := unix.Getwd()
	if err != nil {
		return "?"
	}
	return cwd
}

// describeHostFD names what host descriptor fd refers to, as the guest
// would see it in /proc/self/fd. The descriptor may be closed and reused
// meanwhile; a dump is a best-effort picture.
func (p *Process) describeHostFD(fd int) string {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "?"
	}
	if synth, found := strings.CutPrefix(target, "/memfd:"+synthMemfdPrefix); found {
		// A synthetic /proc or /dev file: its path, as Linux names it.
		synth = strings.TrimSuffix(synth, " (deleted)")
		return strings.TrimPrefix(synth, "dir:")
	}
	if synth, ok := synthOfMarker(target); ok {
		return synth
	}
	if strings.HasPrefix(target, "/") && p.Kernel != nil && p.Kernel.Root != nil {
		if g, ok := p.Kernel.Root.GuestPath(strings.TrimSuffix(target, " (deleted)")); ok {
			if strings.HasSuffix(target, " (deleted)") {
				g += " (deleted)"
			}
			return g
		}
		return "(host)" + target
	}
	return target
}
