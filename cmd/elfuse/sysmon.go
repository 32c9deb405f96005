package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// quietSysmon stops the Go runtime's sysmon thread from waking every 20 µs.
//
// sysmon sleeps for good while every P is idle, and the first system call
// made after that wakes it with its shortest period (20 µs, doubling only
// after 50 rounds without work). Every elfuse process goes idle and busy
// again many times a millisecond (a guest exit, a supervisor message), so
// its sysmon never gets past the short period: on a PVM guest, where a
// timer wake-up and a context switch cost tens of µs, the three or more Go
// processes of a fork loop spent 10 000 nanosleeps per 100 forks on it.
//
// One goroutine that never gives its P back keeps the runtime from ever
// seeing all Ps idle, so sysmon never sleeps for good, is never woken with
// the short period, and backs off to its 10 ms one (it then finds nothing
// to retake: a P running Go code is not in a system call). The goroutine
// waits in pause(2) made as a raw system call, which the scheduler does not
// see. The runtime still stops it when it must (a stop-the-world, the
// collector's scan of its stack): it asks by a signal, which ends the
// pause, and the goroutine then passes a preemption check (preemptPoint)
// before it pauses again. GOMAXPROCS grows by one so that the P it holds
// is not taken from the real work. docs/performance.md ("The Go runtime's
// sysmon") has the measurements.
// anchorWakes counts the pauses quietSysmon's goroutine came out of.
var anchorWakes atomic.Int64

var quietOnce sync.Once

func quietSysmon() { quietOnce.Do(startAnchor) }

func startAnchor() {
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	running := make(chan struct{})
	go func() {
		close(running)
		for {
			syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
			anchorWakes.Add(1)
			preemptPoint()
		}
	}()
	<-running
}

// preemptPoint is a call with a stack check in its prologue, where a
// goroutine the runtime asked to stop (or to let a collector scan it)
// does so. runtime.Gosched is no such point (it is nosplit): a goroutine
// that only yields is put back to run at once, and a collector trying to
// scan it can spin for tens of milliseconds signalling it.
//
//go:noinline
func preemptPoint() { preemptLeaf() }

//go:noinline
func preemptLeaf() {}
