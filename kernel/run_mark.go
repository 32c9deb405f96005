package kernel

// Where a task is in its run loop, for observers on other goroutines: the
// guestproc lets its Go runtime's sysmon anchor go while the guest
// computes for a long time without a system call (cmd/elfuse/sysmon.go).

// RunMark counts the starts and ends of the task's guest runs: it is odd
// while the vCPU runs guest code. The same odd mark seen twice means one
// run has lasted from the first look to the second. Safe from any
// goroutine.
func (t *Task) RunMark() uint64 { return t.runMark.Load() }

// NotifyRunEnd makes the task call fn once, on its own thread, when the
// guest run in progress ends (or, if none is, the next one), replacing a
// function set before and not yet called. Safe from any goroutine.
func (t *Task) NotifyRunEnd(fn func()) { t.runEnd.Store(&fn) }
