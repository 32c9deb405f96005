package guestproc

// Reaping pushed zombies without a round trip.
//
// The supervisor's child event for an ended child carries its wait report
// (ipc.ZombieReport). The guestproc keeps these zombies, and a wait4 or
// waitid that one of them answers returns it at once and tells the
// supervisor with a one-way OpReap:
//
//	supervisor                         guestproc (parent)
//	  ChildEvent{Pid, Exited, Zombie} ──▶ zombies.push   (reader goroutine)
//	                                     wait4 ──▶ zombies.take
//	                       OpReap{Pid} ◀── (sent before any later OpWait)
//
// The supervisor handles one socket's messages in order, so any OpWait
// sent after the OpReap finds the zombie gone. The rules that keep Linux's
// semantics:
//
//   - Only a wait that must report a zombie first qualifies: WEXITED, no
//     WNOWAIT, a selector of a pid, -1 or -pgid (0 needs the caller's own
//     group, which the guestproc does not track), and the process does
//     not reap its children itself (then it never keeps zombies). When
//     the wait also asks for stops or continues, it qualifies only while
//     no stop or continue event ever arrived (a child with such a report
//     could come first).
//   - Among the matching zombies the lowest pid wins, as the supervisor's
//     Tree.Wait picks. A zombie whose event is still in flight is one the
//     wait is ordered before.
//   - No local take while an OpWait is in flight: its reply may carry a
//     zombie the guestproc holds. A reply that reaped a zombie removes it
//     from the set, or, when its event has not arrived yet, leaves a
//     tombstone that drops the event. Dropping a push is always safe: the
//     wait then takes the round trip.

import (
	"sync"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

// zombies is a process's pushed zombies. The zero value is ready.
type zombies struct {
	mu sync.Mutex
	// byPid holds the zombies a local wait may take.
	byPid map[int32]ipc.ZombieReport
	// tomb counts, per pid, events still to drop: OpWait replies reaped
	// those zombies before their event arrived.
	tomb map[int32]int
	// inflight counts OpWait calls sent and not yet settled.
	inflight int
	// reaping counts local takes whose OpReap is not sent yet; begin
	// waits for them (reaped signals when one is), so no OpWait overtakes
	// an OpReap. The send itself holds no lock the reader goroutine needs.
	reaping int
	reaped  *sync.Cond
	// sawReports is set once a stop or continue event arrived.
	sawReports bool
	// selfReapedPids are children whose exit event came while the
	// process reaped its children itself (SIGCHLD ignored): no wait may
	// report them.
	selfReapedPids map[int32]bool
	// live are children this process forked or adopted whose exit event
	// has not arrived, with their exit signals: a witness that a wait has
	// a child to wait for (wait_quiet.go).
	live map[int32]int32
}

// push records child event e (from the reader goroutine). keep says the
// process may wait for the zombie (it does not reap its children itself).
func (z *zombies) push(e ipc.ChildEvent, keep bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if e.Adopted {
		if z.live == nil {
			z.live = map[int32]int32{}
		}
		z.live[e.Pid] = e.ExitSignal
		return
	}
	if !e.Exited {
		z.sawReports = true
		return
	}
	delete(z.live, e.Pid)
	if n := z.tomb[e.Pid]; n > 0 {
		if n == 1 {
			delete(z.tomb, e.Pid)
		} else {
			z.tomb[e.Pid] = n - 1
		}
		return
	}
	if !keep || e.Zombie == nil {
		return
	}
	if z.byPid == nil {
		z.byPid = map[int32]ipc.ZombieReport{}
	}
	z.byPid[e.Pid] = *e.Zombie
}

// qualifies reports whether a wait with selector sel and options may be
// answered from the pushed zombies (see the package comment above).
// Preconditions: z.mu held.
func (z *zombies) qualifiesLocked(sel, options int32) bool {
	o := uint32(options)
	switch {
	case len(z.byPid) == 0 || z.inflight > 0:
		return false
	case o&abi.WEXITED == 0 || o&abi.WNOWAIT != 0:
		return false
	case sel == 0:
		return false
	case o&(abi.WSTOPPED|abi.WCONTINUED) != 0 && z.sawReports:
		return false
	}
	return true
}

// matches applies wait selector sel and the __WCLONE/__WALL rule, as
// supervisor.Tree.selects does.
func matches(pid int32, r *ipc.ZombieReport, sel int32, options int32) bool {
	switch {
	case sel > 0 && pid != sel:
		return false
	case sel < -1 && r.Pgid != -sel:
		return false
	}
	o := uint32(options)
	if o&abi.WALL != 0 {
		return true
	}
	return (r.ExitSignal != abi.SIGCHLD) == (o&abi.WCLONE != 0)
}

// take removes and returns the zombie a wait with selector sel and
// options reports, if the pushed zombies answer it; reap is called with
// its pid before any OpWait can begin.
func (z *zombies) take(sel, options int32, reap func(pid int32)) (kernel.WaitResult, bool) {
	z.mu.Lock()
	if !z.qualifiesLocked(sel, options) {
		z.mu.Unlock()
		return kernel.WaitResult{}, false
	}
	var best int32
	if sel > 0 {
		if r, ok := z.byPid[sel]; ok && matches(sel, &r, sel, options) {
			best = sel
		}
	} else {
		for pid, r := range z.byPid {
			if (best == 0 || pid < best) && matches(pid, &r, sel, options) {
				best = pid
			}
		}
	}
	if best == 0 {
		z.mu.Unlock()
		return kernel.WaitResult{}, false
	}
	r := z.byPid[best]
	delete(z.byPid, best)
	z.reaping++
	z.mu.Unlock()

	reap(best)

	z.mu.Lock()
	z.reaping--
	if z.reaped != nil {
		z.reaped.Broadcast()
	}
	z.mu.Unlock()
	return kernel.WaitResult{Pid: best, Status: r.Status, Code: r.Code, Rusage: r.Rusage}, true
}

// begin notes an OpWait about to be sent, once every OpReap of a local
// take has been.
func (z *zombies) begin() {
	z.mu.Lock()
	for z.reaping > 0 {
		if z.reaped == nil {
			z.reaped = sync.NewCond(&z.mu)
		}
		z.reaped.Wait()
	}
	z.inflight++
	z.mu.Unlock()
}

// done settles an OpWait begun with begin: a zombie it reaped leaves the
// set, or its event, not arrived yet, will be dropped.
func (z *zombies) done(r kernel.WaitResult, err error, options int32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.inflight--
	if err != nil || r.Pid == 0 || uint32(options)&abi.WNOWAIT != 0 ||
		r.Code == abi.CLD_STOPPED || r.Code == abi.CLD_CONTINUED {
		return
	}
	if _, ok := z.byPid[r.Pid]; ok {
		delete(z.byPid, r.Pid)
		return
	}
	if z.tomb == nil {
		z.tomb = map[int32]int{}
	}
	z.tomb[r.Pid]++
}

// waitPushed answers a wait from the pushed zombies when it can, telling
// the supervisor with OpReap.
func (h *host) waitPushed(sel, options int32) (kernel.WaitResult, bool) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil || p.ReapsChildren() {
		return kernel.WaitResult{}, false
	}
	t0 := time.Now()
	r, ok := h.zombies.take(sel, options, func(pid int32) {
		h.send(ipc.Request{Op: ipc.OpReap, Pid: pid})
	})
	if ok {
		kernel.CountStat("wait:pushed", time.Since(t0))
	}
	return r, ok
}

// selfReap records that child pid ended while the process reaps its
// children itself.
func (z *zombies) selfReap(pid int32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.selfReapedPids == nil {
		z.selfReapedPids = map[int32]bool{}
	}
	z.selfReapedPids[pid] = true
}

// selfReaped reports, once, whether a wait's report of pid is of a child
// the process reaped itself (selfReap).
func (z *zombies) selfReaped(pid int32) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.selfReapedPids[pid] {
		return false
	}
	delete(z.selfReapedPids, pid)
	return true
}
