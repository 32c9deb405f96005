package guestproc

// Waits that find no news, answered without the supervisor.
//
// A blocking wait4(-1) polls the tree once before it sleeps until a child
// event (kernel.Task.waitFor); a shell does that for every command. With
// pushed zombies the guestproc knows every exit the supervisor has told
// it of, so when
//
//   - the wait is for any child (-1), reports exits only (or also stops
//     and continues while none was ever reported), and the process keeps
//     its zombies;
//   - no OpWait is in flight and no pushed zombie matches;
//   - a child it forked, of the kind the wait selects (__WCLONE rule),
//     has not been reported ended, so ECHILD is not the answer;
//
// the poll could only say "children exist, none has news", and the
// guestproc says it itself. An exit still in flight is one the wait is
// ordered before, as for a pushed zombie; its event wakes the sleeper.
//
// When instead no such child is live and no pushed zombie matches, the
// answer is ECHILD, as after a shell's last child is reaped and it polls
// with WNOHANG. Children a process did not fork are orphans it adopted
// (pid 1, a subreaper): the supervisor's child event says so before any
// event of the exit that orphaned them, so they count as live too. (A
// wait racing an adoption that the process learnt of only through a
// third process may miss it, which Linux's atomic reparenting never
// does.)

import (
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

// forked records child pid, forked with exitSignal, as live.
func (z *zombies) forked(pid, exitSignal int32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.live == nil {
		z.live = map[int32]int32{}
	}
	z.live[pid] = exitSignal
}

// unfork forgets child pid: the fork failed and its pid was never handed
// out (the supervisor forgets it too).
func (z *zombies) unfork(pid int32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.live, pid)
}

// lost forgets the zombie of child pid, whose guestproc died before the
// child started (OpUnfork): pushed already, or its event still to come and
// then dropped. A tombstone no event ever claims (the supervisor forgot
// the child in time) could only drop the push of a later child with the
// same pid, whose wait then asks the supervisor.
func (z *zombies) lost(pid int32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if _, ok := z.byPid[pid]; ok {
		delete(z.byPid, pid)
		return
	}
	if z.tomb == nil {
		z.tomb = map[int32]int{}
	}
	z.tomb[pid]++
}

// quiet is what the guestproc knows a wait finds without asking.
type quiet int

const (
	quietUnknown quiet = iota // ask the supervisor
	quietNoNews               // children exist, none has news
	quietNoChild              // no child matches: ECHILD
)

// noNews says what a wait with selector sel and options certainly finds,
// if the guestproc knows (see above).
func (z *zombies) noNews(sel, options int32) quiet {
	o := uint32(options)
	if sel != -1 || o&abi.WEXITED == 0 {
		return quietUnknown
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.inflight > 0 || z.reaping > 0 || (o&(abi.WSTOPPED|abi.WCONTINUED) != 0 && z.sawReports) {
		return quietUnknown
	}
	for pid, r := range z.byPid {
		if matches(pid, &r, sel, options) {
			return quietUnknown
		}
	}
	for _, sig := range z.live {
		if o&abi.WALL != 0 || (sig != abi.SIGCHLD) == (o&abi.WCLONE != 0) {
			return quietNoNews
		}
	}
	return quietNoChild
}

// waitQuiet answers a wait whose outcome the guestproc knows: no news, or
// ECHILD. ok is false when the supervisor must be asked.
func (h *host) waitQuiet(sel, options int32) (kernel.WaitResult, bool, error) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil || p.ReapsChildren() {
		return kernel.WaitResult{}, false, nil
	}
	switch h.zombies.noNews(sel, options) {
	case quietNoNews:
		kernel.CountStat("wait:quiet", 0)
		return kernel.WaitResult{}, true, nil
	case quietNoChild:
		kernel.CountStat("wait:echild", 0)
		return kernel.WaitResult{}, true, abi.ECHILD
	}
	return kernel.WaitResult{}, false, nil
}
