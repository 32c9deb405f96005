package guestproc

import "time"

// The running process's own CPU time (kernel.UsageHost): on the ptrace
// backend guest code runs in the stub, and a recycled guestproc's host
// clocks include the processes it ran before; lifeClock (spawn_recycle.go)
// holds what to count from.

// SelfUsage implements kernel.UsageHost.
func (h *host) SelfUsage() (user, sys time.Duration, ok bool) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return 0, 0, false
	}
	user, sys = h.clock.selfUsage(p.Machine())
	return user, sys, true
}

// SelfCPU implements kernel.UsageHost.
func (h *host) SelfCPU() (time.Duration, bool) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return 0, false
	}
	return h.clock.cpuSince(p.Machine()), true
}
