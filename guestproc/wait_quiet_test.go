package guestproc

import (
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

func TestNoNewsNeedsALiveChild(t *testing.T) {
	var z zombies
	if got := z.noNews(-1, abi.WEXITED); got != quietNoChild {
		t.Fatalf("no child at all: %v, want ECHILD", got)
	}
	z.forked(5, abi.SIGCHLD)
	if got := z.noNews(-1, abi.WEXITED); got != quietNoNews {
		t.Fatalf("a live child and no zombie: %v, want no news", got)
	}
	z.push(exitEvent(5, 1, 105), true)
	if got := z.noNews(-1, abi.WEXITED); got != quietUnknown {
		t.Fatalf("a pushed zombie: %v, want to ask (or take it)", got)
	}
	takeAll(t, &z, -1, abi.WEXITED)
	if got := z.noNews(-1, abi.WEXITED); got != quietNoChild {
		t.Fatalf("the only child reaped: %v, want ECHILD", got)
	}
	// pid 1 or a subreaper adopts an orphan: the supervisor says so.
	z.push(ipc.ChildEvent{Pid: 9, Adopted: true, ExitSignal: abi.SIGCHLD}, true)
	if got := z.noNews(-1, abi.WEXITED); got != quietNoNews {
		t.Fatalf("an adopted live child: %v, want no news", got)
	}
	z.push(exitEvent(9, 1, 109), true)
	takeAll(t, &z, -1, abi.WEXITED)
	if got := z.noNews(-1, abi.WEXITED); got != quietNoChild {
		t.Fatalf("the adopted child reaped: %v, want ECHILD", got)
	}
}

func TestNoNewsSelectorsAndOptions(t *testing.T) {
	var z zombies
	z.forked(5, abi.SIGCHLD)
	for _, c := range []struct {
		sel     int32
		options int32
	}{
		{5, abi.WEXITED},  // the kernel's quiet record covers pids
		{0, abi.WEXITED},  // the caller's group is not known here
		{-5, abi.WEXITED}, // nor the children's groups
		{-1, abi.WSTOPPED},
	} {
		if z.noNews(c.sel, c.options) != quietUnknown {
			t.Errorf("selector %d options %#x: no news", c.sel, c.options)
		}
	}
	if z.noNews(-1, abi.WEXITED|abi.WUNTRACED|abi.WNOHANG) != quietNoNews {
		t.Error("WUNTRACED before any stop: want no news")
	}
	z.push(ipc.ChildEvent{Pid: 5}, true) // a stop
	if z.noNews(-1, abi.WEXITED|abi.WUNTRACED) != quietUnknown {
		t.Error("WUNTRACED after a stop event: no news")
	}
	if z.noNews(-1, abi.WEXITED) != quietNoNews {
		t.Error("exits only, after a stop event: want no news")
	}
	z.begin()
	if z.noNews(-1, abi.WEXITED) != quietUnknown {
		t.Error("no news while an OpWait is in flight")
	}
	z.done(kernel.WaitResult{}, nil, abi.WEXITED)
}

func TestNoNewsCloneRule(t *testing.T) {
	var z zombies
	z.forked(5, abi.SIGUSR1)
	var wclone uint32 = abi.WEXITED | abi.WCLONE
	if got := z.noNews(-1, abi.WEXITED); got != quietNoChild {
		t.Errorf("only a clone child, without __WCLONE: %v, want ECHILD", got)
	}
	if z.noNews(-1, int32(wclone)) != quietNoNews || z.noNews(-1, abi.WEXITED|abi.WALL) != quietNoNews {
		t.Error("a clone child with __WCLONE or __WALL: want no news")
	}
}

// A fork that failed hands out no pid: it is no witness.
func TestNoNewsAfterAFailedFork(t *testing.T) {
	var z zombies
	z.forked(5, abi.SIGCHLD)
	z.unfork(5)
	if got := z.noNews(-1, abi.WEXITED); got != quietNoChild {
		t.Errorf("a child whose fork failed: %v, want ECHILD", got)
	}
	// An exit event, even one dropped, ends the witness.
	z.forked(6, abi.SIGCHLD)
	z.push(ipc.ChildEvent{Pid: 6, Exited: true}, false)
	if got := z.noNews(-1, abi.WEXITED); got != quietNoChild {
		t.Errorf("a child reported ended: %v, want ECHILD", got)
	}
}
