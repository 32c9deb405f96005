package supervisor

// Host signals that reach elfuse. Run natively, the program would be
// where elfuse is: in elfuse's host process group, in the terminal's
// foreground group when elfuse is. So:
//
//   - A signal the terminal sends to its foreground group (^C SIGINT, ^\
//     SIGQUIT, ^Z SIGTSTP, SIGWINCH; SIGTTIN/SIGTTOU to a background
//     reader) reaches every host process of that group at once: the
//     supervisor and the guestprocs. Each guestproc passes it on to its
//     guest only when the guest process is in the group the terminal
//     means (guestproc/jobctl.go asks ipc.OpHostGroup); the supervisor
//     must not pass it on again, or pid 1 would get it twice.
//   - A signal sent to elfuse alone (kill PID, timeout(1)) is for pid 1:
//     the supervisor sends it as a guest kill would.
//   - SIGCONT (fg, bg) continues the guest processes of the group a shell
//     continues with elfuse's job (continueFromHost).
//
// The supervisor cannot see who sent a signal (Go does not expose
// si_code), so it tells the two first cases apart by the terminal: when
// elfuse's group is the foreground group of its controlling terminal, a
// terminal signal is taken as coming from the terminal. A `kill -INT` of
// elfuse's pid from elsewhere while it runs in the foreground is lost.

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// relayed are the host signals the supervisor catches and passes on.
var relayed = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR2, unix.SIGALRM, unix.SIGWINCH, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
	unix.SIGCONT}

// terminalSignals are those a terminal sends to its foreground group.
var terminalSignals = map[syscall.Signal]bool{unix.SIGINT: true, unix.SIGQUIT: true,
	unix.SIGTSTP: true, unix.SIGWINCH: true, unix.SIGTTIN: true, unix.SIGTTOU: true}

// relay is the supervisor's host-signal relay.
type relay struct {
	ch   chan os.Signal
	done chan struct{}
	// tty is elfuse's controlling terminal (/dev/tty), nil without one.
	tty *os.File
}

// relaySignals passes host signals sent to elfuse on to the guest (see
// the top of this file); init is pid 1's guestproc, signalled directly
// until its control socket is served. It returns a stop function.
func (s *supervisor) relaySignals(init *os.Process) func() {
	r := &relay{ch: make(chan os.Signal, 16), done: make(chan struct{})}
	if f, err := os.OpenFile("/dev/tty", os.O_RDONLY|unix.O_NOCTTY, 0); err == nil {
		r.tty = f
	}
	s.job.relay = r
	signal.Notify(r.ch, relayed...)
	go func() {
		for {
			select {
			case sig := <-r.ch:
				s.relayOne(init, sig.(syscall.Signal))
			case <-r.done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(r.ch)
		close(r.done)
		if r.tty != nil {
			r.tty.Close()
		}
	}
}

// relayOne handles one host signal elfuse received.
func (s *supervisor) relayOne(init *os.Process, sig syscall.Signal) {
	if s.cfg.LogLevel == "trace" {
		s.log.Trace("host signal", "sig", int(sig))
	}
	switch sig {
	case unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGCONT:
		// elfuse may have left or regained the host terminal's
		// foreground: terminal verdicts must be asked again.
		s.jobGen.bump()
	}
	if sig == unix.SIGCONT {
		s.continueFromHost()
		return
	}
	if terminalSignals[sig] && s.job.relay.inForeground() {
		return // the guestprocs of the foreground group have it too
	}
	info := abi.Siginfo{Signo: int32(sig), Code: abi.SI_USER}
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	s.mu.Lock()
	_, served := s.gps[1]
	s.mu.Unlock()
	if !served {
		init.Signal(sig) // its guestproc forwards it to the guest
		return
	}
	if _, err := s.kill(0, &ipc.Request{Pid: 1, Sig: int32(sig), Info: b}); err != nil {
		s.log.Debug("relay signal", "sig", int(sig), "error", err)
	}
}

// inForeground reports whether elfuse's process group is the foreground
// group of its controlling terminal.
func (r *relay) inForeground() bool {
	if r == nil || r.tty == nil {
		return false
	}
	pg, err := unix.IoctlGetInt(int(r.tty.Fd()), unix.TIOCGPGRP)
	return err == nil && pg == unix.Getpgrp()
}

// raiseDefault applies sig's default action to elfuse itself: it stops
// elfuse with the signal the guest stopped with, so a shell reports the
// job as it would report the program. It returns once elfuse is
// continued.
func (r *relay) raiseDefault(sig syscall.Signal) {
	if sig == unix.SIGSTOP {
		unix.Kill(os.Getpid(), unix.SIGSTOP)
		return
	}
	stopSelfWith(sig) // jobctl_unsafe.go
}
