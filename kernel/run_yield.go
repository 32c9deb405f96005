package kernel

import (
	"runtime"
	"time"
)

// Why a task's run loop goes through the Go scheduler now and then.
//
// A task's goroutine is locked to its thread and, while the guest makes
// system calls, never parks: it goes from one host system call (the
// vCPU run, a ptrace wait) to the next and keeps its P. Go's sysmon sees
// a P whose schedule tick has not moved for 10 ms and, finding it in a
// system call, takes the P away (a "retake"). Each retake resets sysmon
// to its shortest sleep (20 µs, 50 rounds before it starts to back off),
// so a busy guest kept the sysmon of its guestproc waking every few tens
// of µs: `perf stat -a -e syscalls:sys_enter_nanosleep` counted 26 000 to
// 34 000 nanosleeps in one make -j2 of the bench project, about a third
// of the tree's context switches, on a PVM host where each costs ~10 µs.
//
// A pass through the scheduler (runtime.Gosched) moves the tick, so a
// task that yields more often than sysmon's check never has its P taken
// while it is merely busy. In interleaved builds, nanosleeps fell to
// 12 000-13 000 and the build's wall time by 11% (docs/performance.md,
// "Session 9"). A yield of a locked goroutine costs two thread wake-ups,
// so a task whose handlers park anyway (a shell waiting for its child)
// does not yield: see parkedAfter.

// yieldEvery is how long a task runs its loop between two yields: half of
// sysmon's 10 ms preemption threshold (forcePreemptNS), so that the tick
// moves between any two of its checks.
const yieldEvery = 5 * time.Millisecond

// parkedAfter is how long an exit's handling (system call, exception,
// signal delivery) must take for the run loop to count it as a pass
// through the scheduler: a handler that long has almost always waited
// (a child's exit, a pipe, a sleep) and parked its goroutine, which moves
// the tick as a yield does. A shell that forks and waits thus never
// yields; only tasks that keep their P busy do.
const parkedAfter = 500 * time.Microsecond

// maybeYield yields the task's goroutine to the Go scheduler when it has
// kept its P for yieldEvery. handled is when the handling of the exit
// began. Called on the task's thread once per exit.
func (t *Task) maybeYield(handled time.Time) {
	if t.yieldDue(handled, time.Now()) {
		runtime.Gosched()
		t.lastYield = time.Now()
	}
}

// yieldDue says whether the exit whose handling began at handled and ended
// at now calls for a yield, and restarts the clock when the handling
// counts as one.
func (t *Task) yieldDue(handled, now time.Time) bool {
	if t.lastYield.IsZero() || now.Sub(handled) >= parkedAfter {
		t.lastYield = now
		return false
	}
	return now.Sub(t.lastYield) >= yieldEvery
}
