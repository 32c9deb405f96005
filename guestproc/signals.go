package guestproc

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/elfuse/elfuse/kernel"
	"github.com/hashicorp/go-hclog"
)

// forwardSignals turns host signals sent to this guestproc (a terminal's
// ^C, kill from the host, the supervisor relaying its own) into signals to
// the guest process. It returns a stop function.
func forwardSignals(t *kernel.Task, log hclog.Logger) func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, hostSignals...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig := int(s.(syscall.Signal))
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
