package guestproc

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/elfuse/elfuse/kernel"
	"github.com/hashicorp/go-hclog"
)

// forwardSignals turns host signals sent to this guestproc (a terminal's
// ^C or ^Z, a killpg of elfuse's group from the host) into signals to the
// guest process, when the guest process is in the group they were meant
// for (jobctl.go). It returns a stop function, after which such signals
// are dropped until the next process of a recycled guestproc.
//
// The signal.Notify is made once per guestproc, not per process: a
// signal.Stop waits for the runtime's signal goroutine to go idle, about
// half a millisecond at every process end here.
func forwardSignals(t *kernel.Task, log hclog.Logger) func() {
	fwd.once.Do(func() {
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, append(hostSignals, jobSignals...)...)
		fwd.started.Store(true)
		go fwd.loop(ch)
	})
	fwd.target.Store(&forwardTarget{task: t, log: log})
	return func() { fwd.target.Store(nil) }
}

// forwardTarget is the process host signals go to.
type forwardTarget struct {
	task *kernel.Task
	log  hclog.Logger
}

// forwarder owns the guestproc's one signal.Notify.
type forwarder struct {
	once    sync.Once
	started atomic.Bool
	target  atomic.Pointer[forwardTarget]
}

var fwd forwarder

func (f *forwarder) loop(ch <-chan os.Signal) {
	for s := range ch {
		ft := f.target.Load()
		if ft == nil {
			continue // between processes: as ignored (holdTerminalSignals)
		}
		sig := int(s.(syscall.Signal))
		if !forHostGroup(ft.task, sig) {
			ft.log.Debug("host signal not for this process's group", "signal", sig)
			continue
		}
		ft.log.Debug("host signal for the guest", "signal", sig)
		ft.task.Proc.Kill(sig)
	}
}

// ignoreChildStops sets SIGCHLD to SIG_IGN in the guestproc. Its only
// children are backend stubs, and a ptrace backend's stub stops at every
// guest system call: each stop would otherwise send this process a
// SIGCHLD, a signal delivery (an interrupted wait4, Go's handler, a
// sigreturn) per guest syscall for a signal nobody here waits for. An
// ignored signal is dropped when sent. wait4 on the stub is unaffected:
// a traced child is never reaped automatically, and ptrace stops are
// reported to wait4 whatever SIGCHLD's disposition.
func ignoreChildStops() { signal.Ignore(syscall.SIGCHLD) }
