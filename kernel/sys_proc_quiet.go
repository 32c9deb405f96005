package kernel

// Waits the process can answer without asking the supervisor.
//
// A blocking wait4 first polls the tree (a round trip to the supervisor,
// ~0.3-1 ms here) and then sleeps until a child event. When the process
// knows that the poll can only say "children exist, none has news", it
// sleeps at once. It knows that about a child it forked itself, as long as
// no child event arrived since just before the fork: a new child has no
// state change to report until it ends, stops or continues, and every such
// change sends the parent a child event (the events channel of
// TreeHost.ChildEvents is closed and replaced). gcc waits this way for
// every cc1, as and collect2 it vforks.
//
// The record is kept per process in a map keyed by a weak pointer, so it
// needs no field in Process and goes with it.

import (
	"runtime"
	"sync"
	"weak"

	"github.com/elfuse/elfuse/kernel/abi"
)

// quietChildren says: as of events channel ch (still open), children pids
// exist, were forked with SIGCHLD as exit signal, and none has news.
type quietChildren struct {
	ch   <-chan struct{}
	pids []int32
}

var (
	quietMu sync.Mutex
	quiet   = map[weak.Pointer[Process]]*quietChildren{}
)

// noteQuietChild records that child pid was forked after events channel
// ch was sampled.
func (p *Process) noteQuietChild(ch <-chan struct{}, pid int32, exitSignal int32) {
	if ch == nil || exitSignal != abi.SIGCHLD {
		return
	}
	k := weak.Make(p)
	quietMu.Lock()
	defer quietMu.Unlock()
	q := quiet[k]
	if q == nil {
		q = &quietChildren{}
		quiet[k] = q
		runtime.AddCleanup(p, func(k weak.Pointer[Process]) {
			quietMu.Lock()
			delete(quiet, k)
			quietMu.Unlock()
		}, k)
	}
	if q.ch != ch {
		q.ch, q.pids = ch, q.pids[:0]
	}
	q.pids = append(q.pids, pid)
}

// forgetQuiet drops the record: a poll found news (or reaped a child).
func (p *Process) forgetQuiet() {
	k := weak.Make(p)
	quietMu.Lock()
	if q := quiet[k]; q != nil {
		q.ch, q.pids = nil, q.pids[:0]
	}
	quietMu.Unlock()
}

// quietWait reports whether a blocking wait for selector pid with options,
// sampled events channel ch, would find only children without news, so
// the poll can be skipped. Only a positive selector naming a recorded
// child qualifies (other selectors may match older children with news).
func (p *Process) quietWait(ch <-chan struct{}, pid int32, options int32) bool {
	o := uint32(options)
	if pid <= 0 || o&abi.WNOHANG != 0 || o&abi.WCLONE != 0 && o&abi.WALL == 0 {
		return false
	}
	k := weak.Make(p)
	quietMu.Lock()
	defer quietMu.Unlock()
	q := quiet[k]
	if q == nil || q.ch != ch {
		return false
	}
	for _, c := range q.pids {
		if c == pid {
			return true
		}
	}
	return false
}
