package kernel

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/elfuse/elfuse/hvf"
)

// Run runs the task until its process exits and returns the wait status.
// It must be called on a goroutine locked to its OS thread.
func (t *Task) Run() (uint32, error) {
	var (
		watchdog *time.Timer
		expired  atomic.Bool
	)
	if d := t.Proc.Kernel.Timeout; d > 0 {
		watchdog = time.AfterFunc(time.Duration(d)*time.Second, func() {
			expired.Store(true)
			t.CPU.Kick()
		})
		defer watchdog.Stop()
	}
	for {
		if watchdog != nil {
			watchdog.Reset(time.Duration(t.Proc.Kernel.Timeout) * time.Second)
		}
		exit, err := t.CPU.Run()
		if err != nil {
			return 0, fmt.Errorf("vcpu run: %w", err)
		}
		switch exit.Reason {
		case hvf.ExitSyscall:
			t.Syscall()
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
		if done, status := t.Proc.Exited(); done {
			return status, nil
		}
		t.DeliverSignals()
		if done, status := t.Proc.Exited(); done {
			return status, nil
		}
	}
}
