package kernel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elfuse/elfuse/hvf"
)

// Run runs the task until its process exits and returns the wait status.
// It must be called on a goroutine locked to its OS thread.
func (t *Task) Run() (uint32, error) {
	t.noteHostThread() // sys_sys_target.go
	t.startCreds()     // creds_thread.go
	defer t.dropCreds()
	var (
		expired atomic.Bool
		exits   atomic.Uint64
	)
	if d := t.Proc.Kernel.Timeout; d > 0 {
		stop := t.watchdog(time.Duration(d)*time.Second, &exits, &expired)
		defer stop()
	}
	for {
		exits.Add(1)
		st := stats.Load() // sys_stats.go; nil unless accounting
		var t0 time.Time
		if st != nil {
			t0 = time.Now()
		}
		threaded := t.Proc.threaded()
		if threaded {
			t.enterGuest() // thread_stop.go
		}
		t.runMark.Add(1) // odd: in guest code (run_mark.go)
		exit, err := t.CPU.Run()
		t.runMark.Add(1)
		if f := t.runEnd.Load(); f != nil && t.runEnd.CompareAndSwap(f, nil) {
			(*f)()
		}
		if threaded {
			t.leftGuest()
		}
		if st != nil {
			st.ran(t0)
		}
		if err != nil {
			return 0, fmt.Errorf("vcpu run: %w", err)
		}
		handled := time.Now() // run_yield.go: a handler that blocked parked
		switch exit.Reason {
		case hvf.ExitSyscall:
			if st != nil {
				st.syscall(t)
			} else {
				t.Syscall()
			}
		case hvf.ExitException:
			t.HandleException(exit)
		case hvf.ExitInterrupted:
			if expired.Swap(false) {
				r := t.CPU.Regs()
				t.Log.Debug("watchdog: guest ran a full timeout without an exit; resuming",
					"timeout_s", t.Proc.Kernel.Timeout, "rip", fmt.Sprintf("%#x", r.RIP),
					"rsp", fmt.Sprintf("%#x", r.RSP))
			}
		}
		if t.thread.exited || t.thread.zap.Load() {
			return t.threadEnd() // thread.go
		}
		if done, _ := t.Proc.Exited(); done {
			return t.leaderDone()
		}
		t.DeliverSignals()
		t.maybeYield(handled) // run_yield.go
		if done, _ := t.Proc.Exited(); done {
			return t.leaderDone()
		}
	}
}

// watchdog kicks the vCPU once it has run for timeout without an exit. It
// does not touch the run loop's hot path beyond the exits counter the loop
// bumps: a timer ticks every timeout/2 and kicks when two ticks in a row saw
// the same count, so a kick comes after between timeout and 1.5*timeout
// without an exit (resetting a timer on every exit cost more than the rest
// of the kernel's share of a syscall). It returns the function that stops it.
func (t *Task) watchdog(timeout time.Duration, exits *atomic.Uint64, expired *atomic.Bool) (stop func()) {
	tick := timeout / 2
	var (
		mu    sync.Mutex // orders a tick against stop
		done  bool
		timer *time.Timer
		last  = ^uint64(0)
		quiet int
	)
	timer = time.AfterFunc(tick, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if n := exits.Load(); n != last {
			last, quiet = n, 0
		} else if quiet++; quiet == 2 {
			quiet = 0
			expired.Store(true)
			t.CPU.Kick()
		}
		timer.Reset(tick)
	})
	return func() {
		mu.Lock()
		done = true
		mu.Unlock()
		timer.Stop()
	}
}
