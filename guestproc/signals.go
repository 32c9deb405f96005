package guestproc

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/elfuse/elfuse/kernel"
	"github.com/hashicorp/go-hclog"
)

// forwardSignals turns host signals sent to this guestproc (a terminal's
// ^C or ^Z, a killpg of elfuse's group from the host) into signals to the
// guest process, when the guest process is in the group they were meant
// for (jobctl.go). It returns a stop function.
func forwardSignals(t *kernel.Task, log hclog.Logger) func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, append(hostSignals, jobSignals...)...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig := int(s.(syscall.Signal))
				if !forHostGroup(t, sig) {
					log.Debug("host signal not for this process's group", "signal", sig)
					continue
				}
				log.Debug("host signal for the guest", "signal", sig)
				t.Proc.Kill(sig)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
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
