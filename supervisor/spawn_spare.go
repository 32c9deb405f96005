package supervisor

// Warm spares: guestprocs started ahead (runtime up, VM made) that become
// the next fork children, so that a fork does not wait for a host process
// to start. A fork child whose process ended offers its guestproc back
// (Exited with Reusable): kept as a spare, it lets a fork loop run without
// starting any host process once the pool holds a spare or two.

import (
	"syscall"

	"github.com/elfuse/elfuse/ipc"
)

// maxSpares bounds the warm guestprocs kept (each holds a Go runtime and,
// on the ptrace backend, a stub process: about 8 MiB resident together).
// A build keeps several processes alive at once (make -j2: make, two
// shells, two gcc drivers, cc1 or as under each), so when they end
// together a pool of two threw most of them away and the next burst of
// forks started new guestprocs: make -j2 of the bench project started 31
// of them (a Go runtime start each) with a pool of 2, 4 with a pool of 8,
// and its CPU time fell from 9.3 s to 4.4 s.
const maxSpares = 8

// takeSpare returns a warm spare, if one is ready, and starts making
// another when none is left.
func (s *supervisor) takeSpare() *guestprocHandle {
	s.spareMu.Lock()
	var sp *guestprocHandle
	if n := len(s.spares); n > 0 {
		sp = s.spares[n-1]
		s.spares = s.spares[:n-1]
	}
	more := len(s.spares) == 0 && !s.making && !s.closing
	if more {
		s.making = true
	}
	s.spareMu.Unlock()
	if more {
		go s.makeSpare()
	}
	return sp
}

// makeSpare starts a spare guestproc and keeps it unless the pool is full
// or the supervisor is ending.
func (s *supervisor) makeSpare() {
	h, err := s.spawn(0, nil)
	if err == nil {
		err = h.conn.Send(ipc.MsgStart, ipc.Start{Spare: true, Backend: s.cfg.Backend,
			Timeout: s.cfg.Timeout, LogLevel: s.cfg.LogLevel})
		if err != nil {
			h.discard()
			h = nil
		}
	}
	s.spareMu.Lock()
	s.making = false
	s.spareMu.Unlock()
	if err != nil {
		s.log.Debug("spare guestproc", "error", err)
		return
	}
	if !s.keepSpare(h) {
		h.discard()
	}
}

// keepSpare adds h to the pool unless it is full or the supervisor is
// ending; false means the caller still owns h.
func (s *supervisor) keepSpare(h *guestprocHandle) bool {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	if s.closing || len(s.spares) >= maxSpares {
		return false
	}
	s.spares = append(s.spares, h)
	return true
}

// recycle takes guestproc g, whose process just reported Exited and which
// offered to be reused, as a spare. It returns false when the pool does
// not want it; then g's serve ends it as usual (closing the control socket
// makes it exit). On true, g's serve must stop: the spare's next serve
// reads the socket.
func (s *supervisor) recycle(g *guestproc) bool {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	if s.closing || len(s.spares) >= maxSpares {
		return false
	}
	h := s.detach(g)
	if h == nil {
		return false
	}
	s.spares = append(s.spares, h)
	s.log.Debug("guestproc recycled as a spare", "pid", g.pid, "host_pid", g.cmd.Process.Pid)
	return true
}

// detach takes the guestproc of g, whose process ended, from the process
// it ran, for reuse; nil if that is over already (closed).
func (s *supervisor) detach(g *guestproc) *guestprocHandle {
	// Nothing addressed to the ended process may reach the next one.
	g.sendMu.Lock()
	closed := g.closed
	g.closed = true
	g.sendMu.Unlock()
	if closed {
		return nil
	}
	s.mu.Lock()
	if s.gps[g.pid] == g {
		delete(s.gps, g.pid)
	}
	s.mu.Unlock()
	h := &guestprocHandle{cmd: g.cmd, conn: g.conn, stubs: g.stubs}
	g.stubs = stubSet{} // the stubs go with the host process
	return h
}

// dropSpares stops keeping spares and ends those kept (pid 1 ended).
func (s *supervisor) dropSpares() {
	s.spareMu.Lock()
	s.closing = true
	spares := s.spares
	s.spares = nil
	s.spareMu.Unlock()
	for _, sp := range spares {
		sp.discard()
	}
}

// signalHost sends sig to g's host process unless g no longer runs its
// process: ended, or recycled as a spare (recycle marks it closed under
// sendMu first), when the host process may already run another process.
func (g *guestproc) signalHost(sig syscall.Signal) bool {
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	if g.closed {
		return false
	}
	g.cmd.Process.Signal(sig)
	return true
}
