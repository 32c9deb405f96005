package supervisor

import (
	"sync"
	"sync/atomic"
)

// Anchor is cmd/elfuse's sysmon anchor (cmd/elfuse/sysmon.go): a goroutine
// that holds a P so that the Go runtime's sysmon never sleeps for good and
// so is never woken with its 20 µs period. The supervisor, the hub of
// every fork, exit and wait, goes idle and busy again all the time while
// its tree makes processes; while no guestproc says anything (the guests
// compute, or an interactive shell waits for a key) the anchor would only
// wake every 10 ms for nothing, so it is let go then and held again at the
// next message.
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
}

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

// woke is the anchor's wake-up check: no message since the last one lets
// it go.
func (g *anchorGuard) woke() {
	n := g.messages.Load()
	if n != g.last {
		g.last = n
		return
	}
	g.mu.Lock()
	g.off.Store(true)
	g.anchor.Hold(false)
	g.mu.Unlock()
}
