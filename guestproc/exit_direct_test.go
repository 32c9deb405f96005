package guestproc

import (
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

// directReport is a child's own exit report as directExit makes it: no
// process group.
func directReport(pid, code int32) ipc.ChildEvent {
	e := exitEvent(pid, 0, code)
	e.Zombie.ExitSignal = 0 // push fills it in from the fork
	return e
}

// A child's own report is a zombie to take at once; the supervisor's
// event that follows is news no more.
func TestExitReportThenEcho(t *testing.T) {
	var z zombies
	z.forked(5, abi.SIGCHLD)
	if !z.push(directReport(5, 105), true, true) {
		t.Fatal("report of a live child not taken")
	}
	if !z.echoPending() {
		t.Fatal("no echo awaited after a report")
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{5}) {
		t.Fatalf("took %v, want [5]", got)
	}
	if z.push(exitEvent(5, 1, 105), true, false) {
		t.Fatal("the echo counted as news")
	}
	if z.echoPending() || len(z.byPid) != 0 || len(z.live) != 0 {
		t.Fatalf("after the echo: direct %v zombies %v live %v", z.direct, z.byPid, z.live)
	}
	if q := z.noNews(-1, abi.WEXITED); q != quietNoChild {
		t.Fatalf("noNews = %v, want ECHILD", q)
	}
}

// When the supervisor's event wins the race, the report is dropped: one
// zombie, one wait.
func TestExitEchoBeforeReport(t *testing.T) {
	var z zombies
	z.forked(5, abi.SIGCHLD)
	if !z.push(exitEvent(5, 1, 105), true, false) {
		t.Fatal("the event of a live child not taken")
	}
	if z.push(directReport(5, 105), true, true) {
		t.Fatal("a report after the event counted")
	}
	if z.echoPending() {
		t.Fatal("an echo awaited for a dropped report")
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{5}) {
		t.Fatalf("took %v, want [5]", got)
	}
}

// A reported zombie carries its fork's exit signal, which selects it for
// __WCLONE waits, and no process group: a wait for a group leaves it to
// the supervisor.
func TestExitReportSelection(t *testing.T) {
	var z zombies
	z.forked(5, abi.SIGUSR1)
	z.forked(6, abi.SIGCHLD)
	z.push(directReport(5, 105), true, true)
	z.push(directReport(6, 106), true, true)
	if z.byPid[5].ExitSignal != abi.SIGUSR1 {
		t.Fatalf("report 5 exit signal %d, want SIGUSR1", z.byPid[5].ExitSignal)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{6}) {
		t.Fatalf("plain wait took %v, want [6]", got)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED|abi.WALL); !equal(got, []int32{5}) {
		t.Fatalf("__WALL wait took %v, want [5]", got)
	}
	z.forked(7, abi.SIGCHLD)
	z.push(directReport(7, 107), true, true)
	if r, ok := z.take(-3, abi.WEXITED, func(int32) {}); ok {
		t.Fatalf("wait(-3) took %+v, whose group is unknown", r)
	}
	if got := takeAll(t, &z, 7, abi.WEXITED); !equal(got, []int32{7}) {
		t.Fatalf("wait(7) took %v, want [7]", got)
	}
}

// A child gone from the live set (a wait reaped it on the supervisor's
// word) gets no zombie from a late report; nor does a stranger.
func TestExitReportOfNoLiveChild(t *testing.T) {
	var z zombies
	if z.push(directReport(5, 105), true, true) {
		t.Fatal("report of a pid never forked taken")
	}
	z.forked(6, abi.SIGCHLD)
	z.begin()
	z.done(kernel.WaitResult{Pid: 6, Code: abi.CLD_EXITED}, nil, abi.WEXITED) // reaped before any event
	if z.push(directReport(6, 106), true, true) {
		t.Fatal("report of a reaped child taken")
	}
	if z.push(exitEvent(6, 1, 106), true, false); len(z.byPid) != 0 {
		t.Fatalf("zombies %v after the event of a reaped child", z.byPid)
	}
}

func TestChildless(t *testing.T) {
	var z zombies
	if !z.childless() {
		t.Fatal("a new process has children")
	}
	z.forked(5, abi.SIGCHLD)
	if z.childless() {
		t.Fatal("a live child not counted")
	}
	z.push(exitEvent(5, 1, 105), true, false)
	if z.childless() {
		t.Fatal("a zombie not counted")
	}
	takeAll(t, &z, -1, abi.WEXITED)
	if !z.childless() {
		t.Fatal("a reaped child still counted")
	}
}
