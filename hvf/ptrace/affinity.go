package ptrace

// The stub follows its tracer from CPU to CPU. Each guest syscall is a
// ping-pong between the tracing thread and the stub; left to itself the
// host scheduler often wakes the stub on another, idle CPU, and in a
// virtual machine (where this backend is used: no /dev/kvm) waking an
// idle vCPU costs far more than the switch: a getppid loop took 37-41 µs
// per call, 25-27 µs with the stub on the tracer's CPU.
//
// Only the stub is pinned, never the tracer: the host still balances the
// guestprocs, and the stub moves with its tracer at the next run.

import (
	"golang.org/x/sys/unix"
)

// followTracer pins the stub to the CPU the calling (tracing) thread runs
// on, if it is not pinned there already. Errors are ignored: affinity is
// an optimisation (a cpuset may forbid it).
func (m *machine) followTracer() {
	c, err := getcpu()
	if err != nil || c == m.stubCPU {
		return
	}
	var set unix.CPUSet
	set.Set(c)
	// Tried once per CPU change: a refusal (a cpuset without c) is not
	// retried at every run.
	m.stubCPU = c
	unix.SchedSetaffinity(m.pid, &set)
}
