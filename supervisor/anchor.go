package supervisor

import (
	"sync"
	"sync/atomic"
)

// Anchor is cmd/elfuse's sysmon anchor (cmd/elfuse/sysmon.go): a goroutine
// that holds a P so that the Go runtime's sysmon never sleeps for good and
// so is never woken with its 20 µs period. The supervisor, the hub of
// every fork, exit and wait, goes idle and busy again all the time while
// its tree makes processes; while no guestproc says anything for a while
// (the guests compute long, or an interactive shell waits for a key) the
// anchor would only wake every 10 ms for nothing, so it is let go then
// (quietPatience) and held again at the next message.
type Anchor interface {
	// Hold holds (true) or lets go of (false) the anchor.
	Hold(bool)
	// OnWake sets the function the held anchor calls at each of its
	// wake-ups (about every 10 ms), on its own goroutine.
	OnWake(func())
}

// anchorGuard drives the supervisor's Anchor from its messages. The zero
// value (no Anchor) does nothing.
type anchorGuard struct {
	anchor   Anchor
	messages atomic.Uint64
	off      atomic.Bool
	mu       sync.Mutex // orders letting go against holding again
	last     uint64     // messages at the previous wake-up
	quiet    int        // wake-ups in a row with no message
}

// quietPatience is how many wake-ups in a row (about 10 ms apart) with no
// message let the anchor go. A let-go anchor costs sysmon's short period
// at the next message (~60 nanosleeps, ~120 context switches), a held one
// about 4 context switches per wake-up, so holding on is cheaper through
// any quiet spell shorter than about 300 ms: a build whose compilers
// compute for tens of milliseconds between forks and exits.
const quietPatience = 30

func (g *anchorGuard) start(a Anchor) {
	if a == nil {
		return
	}
	g.anchor = a
	a.OnWake(g.woke)
}

// message notes a message from a guestproc: the anchor is held again.
func (g *anchorGuard) message() {
	g.messages.Add(1)
	if !g.off.Load() {
		return
	}
	g.mu.Lock()
	if g.off.Load() {
		g.off.Store(false)
		g.anchor.Hold(true)
	}
	g.mu.Unlock()
}

// woke is the anchor's wake-up check: quietPatience wake-ups in a row with
// no message let it go.
func (g *anchorGuard) woke() {
	n := g.messages.Load()
	if n != g.last {
		g.last = n
		g.quiet = 0
		return
	}
	if g.quiet++; g.quiet < quietPatience {
		return
	}
	g.quiet = 0
	g.mu.Lock()
	g.off.Store(true)
	g.anchor.Hold(false)
	g.mu.Unlock()
}
