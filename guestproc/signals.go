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
	fwd.setup()
	ft := &forwardTarget{task: t, log: log}
	fwd.mu.Lock()
	fwd.target.Store(ft)
	queued := fwd.queued
	fwd.queued, fwd.queueing = nil, false
	fwd.mu.Unlock()
	if len(queued) > 0 {
		// Not here: the group check asks the supervisor, whose replies
		// this process may not read yet.
		go func() {
			for _, sig := range queued {
				fwd.deliver(ft, sig)
			}
		}()
	}
	return func() {
		fwd.mu.Lock()
		fwd.target.Store(nil)
		fwd.queued, fwd.queueing = nil, false
		fwd.mu.Unlock()
	}
}

// queueSignals keeps the terminal's signals from now until forwardSignals
// names the process they are for: a fork child's, whose parent's fork may
// return (and a ^C be typed) while the child is still being rebuilt here.
func queueSignals() {
	fwd.setup()
	fwd.mu.Lock()
	fwd.queued, fwd.queueing = nil, true
	fwd.mu.Unlock()
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

	mu       sync.Mutex
	queueing bool  // between queueSignals and forwardSignals
	queued   []int // what came meanwhile (a few at most)
}

var fwd forwarder

// setup makes the signal.Notify, once.
func (f *forwarder) setup() {
	f.once.Do(func() {
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, append(hostSignals, jobSignals...)...)
		f.started.Store(true)
		go f.loop(ch)
	})
}

func (f *forwarder) loop(ch <-chan os.Signal) {
	for s := range ch {
		sig := int(s.(syscall.Signal))
		ft := f.target.Load()
		if ft == nil {
			f.mu.Lock()
			if ft = f.target.Load(); ft == nil {
				// Between processes: as ignored (holdTerminalSignals),
				// unless a fork child is on its way.
				if f.queueing && len(f.queued) < 16 {
					f.queued = append(f.queued, sig)
				}
				f.mu.Unlock()
				continue
			}
			f.mu.Unlock()
		}
		f.deliver(ft, sig)
	}
}

// deliver gives sig to ft's process if it is in the group sig was for.
func (f *forwarder) deliver(ft *forwardTarget, sig int) {
	if !forHostGroup(ft.task, sig) {
		ft.log.Debug("host signal not for this process's group", "signal", sig)
		return
	}
	ft.log.Debug("host signal for the guest", "signal", sig)
	ft.task.Proc.Kill(sig)
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
