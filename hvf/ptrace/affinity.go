package ptrace

// The stub follows its tracer from CPU to CPU while the guest makes
// system calls. Each guest syscall is a ping-pong between the tracing
// thread and the stub; left to itself the host scheduler often wakes the
// stub on another, idle CPU, and in a virtual machine (where this backend
// is used: no /dev/kvm) waking an idle vCPU costs far more than the switch
// itself: a getppid loop took 28 µs per call (median), 21 µs with the stub
// on its tracer's CPU.
//
// A stub that computes for a long stretch between syscalls is let go
// again (every CPU allowed): pinned, two computing stubs could share one
// CPU while the other idles, as the host cannot move a pinned task. The
// tracer itself is never pinned.

import (
	"time"

	"golang.org/x/sys/unix"
)

// longRun is the guest run (between two stops) from which the stub is
// left free to move.
const longRun = time.Millisecond

// affinity is the stub's CPU placement.
type affinity struct {
	// cpu is the CPU the stub is pinned to, -1 when it may run anywhere
	// in free.
	cpu  int
	free unix.CPUSet
	// resumed is when the stub was last resumed into guest code, and
	// lastRun how long that run lasted.
	resumed time.Time
	lastRun time.Duration
	ok      bool // free was read
}

// placeStub pins the stub to the calling (tracing) thread's CPU before a
// guest run that follows a short one, and frees it after a long one.
// Errors are ignored: placement is an optimisation (a cpuset may forbid
// it).
func (m *machine) placeStub(lastRun time.Duration) {
	a := &m.aff
	if !a.ok {
		a.ok = true
		if unix.SchedGetaffinity(m.pid, &a.free) != nil || a.free.Count() < 2 {
			a.free = unix.CPUSet{}
		}
	}
	if a.free.Count() < 2 {
		return
	}
	if lastRun >= longRun {
		if a.cpu >= 0 {
			a.cpu = -1
			unix.SchedSetaffinity(m.pid, &a.free)
			m.placeHelper(&a.free)
		}
		return
	}
	c, err := currentCPU()
	if err != nil || c == a.cpu || !a.free.IsSet(c) {
		return
	}
	var set unix.CPUSet
	set.Set(c)
	a.cpu = c
	unix.SchedSetaffinity(m.pid, &set)
	m.placeHelper(&set)
}
