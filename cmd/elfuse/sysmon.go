package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// The Go runtime's sysmon thread, and why elfuse keeps it quiet.
//
// sysmon sleeps for good while every P is idle, and the first system call
// made after that wakes it with its shortest period (20 µs, doubling only
// after 50 rounds without work). An elfuse process that serves guest
// processes goes idle and busy again many times a millisecond (a guest
// exit, a supervisor message), so its sysmon never gets past the short
// period: on a PVM guest, where a timer wake-up and a context switch cost
// tens of µs, the Go processes of a fork loop spent 10 000 nanosleeps per
// 100 forks on it.
//
// The anchor is one goroutine that never gives its P back, so the runtime
// never sees all Ps idle, sysmon never sleeps for good, is never woken
// with the short period, and backs off to its 10 ms one (it then finds
// nothing to retake: a P running Go code is not in a system call). The
// goroutine waits in pause(2) made as a raw system call, which the
// scheduler does not see. The runtime still stops it when it must (a
// stop-the-world, the collector's scan of its stack, sysmon's preemption
// every 10 ms): it asks by a signal, which ends the pause, and the
// goroutine then passes a preemption check (preemptPoint) before it pauses
// again. GOMAXPROCS grows by one so that the P it holds is not taken from
// the real work (withAnchor).
//
// A held anchor wakes every 10 ms (sysmon preempts it), which is for
// nothing while the process has nothing to do: the supervisor and the
// guestprocs let it go then (supervisor/anchor.go, guestproc/anchor.go)
// and hold it again when they have work. docs/performance.md ("The Go runtime's sysmon") has the
// measurements.
type anchor struct {
	on   atomic.Bool
	wake chan struct{}
	// wakes counts the pauses the goroutine came out of.
	wakes atomic.Int64
	// onWake is called after each of them while held (guestproc.Anchor).
	onWake atomic.Pointer[func()]
}

// Hold implements guestproc.Anchor.
func (a *anchor) Hold(on bool) { setAnchor(on) }

// OnWake implements guestproc.Anchor.
func (a *anchor) OnWake(fn func()) { a.onWake.Store(&fn) }

var (
	theAnchor  = anchor{wake: make(chan struct{}, 1)}
	anchorOnce sync.Once
)

// quietSysmon starts the anchor, held; once per process.
func quietSysmon() {
	anchorOnce.Do(func() {
		runtime.GOMAXPROCS(withAnchor(runtime.GOMAXPROCS(0)))
		theAnchor.on.Store(true)
		running := make(chan struct{})
		go theAnchor.hold(running)
		<-running
	})
}

// withAnchor is GOMAXPROCS for a process whose GOMAXPROCS was n, once the
// anchor holds a P of its own: n more, and never fewer than two for the
// work. A single-threaded guest's vCPU thread holds a P through its raw
// waits too (kernel/fd_wait_raw.go, sys_proc_wait_raw.go), so with one
// work P (GOMAXPROCS 1: one CPU in the affinity mask, or a container's
// one-CPU quota) every other goroutine, the reader of the control socket
// among them, waited for sysmon's 10 ms preemption: a fork took 16 ms
// under `taskset -c 0` instead of ~1.2.
func withAnchor(n int) int { return max(n, 2) + 1 }

// setAnchor holds (on) or lets go of the anchor. Letting go takes effect at
// the anchor's next wake-up (sysmon's preemption, within about 10 ms).
func setAnchor(on bool) {
	theAnchor.on.Store(on)
	if on {
		select {
		case theAnchor.wake <- struct{}{}:
		default:
		}
	}
}

func (a *anchor) hold(running chan<- struct{}) {
	close(running)
	for {
		for !a.on.Load() {
			<-a.wake // parked: the P is idle
		}
		syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
		a.wakes.Add(1)
		preemptPoint()
		if f := a.onWake.Load(); f != nil && a.on.Load() {
			(*f)()
		}
	}
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
