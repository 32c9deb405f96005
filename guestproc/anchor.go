package guestproc

import (
	"sync/atomic"

	"github.com/elfuse/elfuse/kernel"
)

// Anchor is cmd/elfuse's sysmon anchor (cmd/elfuse/sysmon.go): a goroutine
// that holds a P so that the Go runtime's sysmon never sleeps for good and
// so is never woken with its 20 µs period. It pays off in a guestproc whose
// goroutines park for short waits again and again (its guest forks and
// waits for the child, reads a pipe): each wait would wake sysmon with the
// short period. It costs a wake-up every 10 ms for nothing while the
// guestproc waits as a spare, its guest computes (the tracer's wait for
// the guest keeps its P: sysmon never sleeps for good anyway), or its
// guest waits long (an idle shell): one wake of sysmon's short period
// after a long wait is cheaper than a hundred of the anchor's a second.
type Anchor interface {
	// Hold holds (true) or lets go of (false) the anchor.
	Hold(bool)
	// OnWake sets the function the held anchor calls at each of its
	// wake-ups (about every 10 ms), on its own goroutine.
	OnWake(func())
}

// anchorGuard drives an Anchor: let go while the guestproc waits as a
// spare (hold) and, from the anchor's own wake-ups, when the guest has been
// in one run since the previous wake-up, or in one wait between runs for
// waitPatience wake-ups; held again when the next run ends. A nil guard's
// Anchor is none.
type anchorGuard struct {
	anchor Anchor
	task   atomic.Pointer[kernel.Task]
	// last is the task's run mark at the previous wake-up (noLook: none
	// since watch).
	last atomic.Uint64
	// quiet counts the wake-ups in a row that found the task in the same
	// wait.
	quiet atomic.Int32
}

// waitPatience is how many wake-ups in a row (about 10 ms apart) must find
// the task in one wait before the anchor is let go. A let-go anchor costs
// sysmon's short period when the wait ends (~60 nanosleeps, ~120 context
// switches), a held one about 4 context switches per wake-up (sysmon's and
// the anchor's), so holding on is cheaper for any wait shorter than about
// 300 ms: a make or gcc driver waiting for its compilers, a shell waiting
// for a command. A guest that computes has no use for the anchor (the
// tracer's wait for it keeps a P: hvf/ptrace/tick.go) and lets go at the
// first quiet wake-up.
const waitPatience = 30

const noLook = ^uint64(0)

func newAnchorGuard(a Anchor) *anchorGuard {
	g := &anchorGuard{anchor: a}
	if a != nil {
		a.OnWake(g.woke)
	}
	return g
}

// hold holds or lets go of the anchor (the spare's wait).
func (g *anchorGuard) hold(on bool) {
	if g.anchor != nil {
		g.anchor.Hold(on)
	}
}

// watch makes t the task whose runs the guard looks at (nil: none).
func (g *anchorGuard) watch(t *kernel.Task) {
	g.last.Store(noLook)
	g.quiet.Store(0)
	g.task.Store(t)
}

// woke is the anchor's wake-up check.
func (g *anchorGuard) woke() {
	t := g.task.Load()
	if t == nil {
		return
	}
	m := t.RunMark()
	if g.last.Swap(m) != m {
		g.quiet.Store(0)
		return
	}
	if m%2 == 0 && g.quiet.Add(1) < waitPatience {
		return // in one wait: hold on a while (waitPatience)
	}
	g.quiet.Store(0)
	// One guest run, or one wait between two runs, since the last
	// wake-up: let go first, then ask for the run's end, so that a run
	// ending in between holds it again.
	g.last.Store(noLook)
	g.anchor.Hold(false)
	t.NotifyRunEnd(func() { g.anchor.Hold(true) })
}
