package guestproc

import (
	"runtime"
	"sync"
	"testing"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

func exitEvent(pid, pgid, code int32) ipc.ChildEvent {
	return ipc.ChildEvent{Pid: pid, Exited: true, Zombie: &ipc.ZombieReport{
		Status: uint32(code) << 8, Code: abi.CLD_EXITED, Pgid: pgid, ExitSignal: abi.SIGCHLD,
		Rusage: abi.Rusage{Utime: abi.Timeval{Sec: int64(pid)}}}}
}

// takeAll takes with sel until nothing qualifies, returning the pids in
// order and checking that each was reaped once, as it was taken.
func takeAll(t *testing.T, z *zombies, sel, options int32) []int32 {
	t.Helper()
	var got []int32
	for {
		var reaped []int32
		r, ok := z.take(sel, options, func(pid int32) { reaped = append(reaped, pid) })
		if !ok {
			if len(reaped) != 0 {
				t.Fatalf("reaped %v without a result", reaped)
			}
			return got
		}
		if len(reaped) != 1 || reaped[0] != r.Pid {
			t.Fatalf("took %d but reaped %v", r.Pid, reaped)
		}
		if r.Status != uint32(r.Pid+100)<<8 || r.Code != abi.CLD_EXITED || r.Rusage.Utime.Sec != int64(r.Pid) {
			t.Fatalf("result %+v does not carry the pushed report", r)
		}
		got = append(got, r.Pid)
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPushedZombiesLowestPidFirst(t *testing.T) {
	var z zombies
	for _, pid := range []int32{9, 4, 7} {
		z.push(exitEvent(pid, 1, pid+100), true)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{4, 7, 9}) {
		t.Fatalf("wait(-1) took %v, want [4 7 9]", got)
	}
}

func TestPushedZombiesSelectors(t *testing.T) {
	var z zombies
	z.push(exitEvent(5, 1, 105), true)
	z.push(exitEvent(6, 6, 106), true)
	z.push(exitEvent(8, 6, 108), true)
	if got := takeAll(t, &z, 0, abi.WEXITED); len(got) != 0 {
		t.Fatalf("selector 0 (needs the caller's group) took %v", got)
	}
	if got := takeAll(t, &z, 8, abi.WEXITED); !equal(got, []int32{8}) {
		t.Fatalf("pid 8 took %v", got)
	}
	if got := takeAll(t, &z, 3, abi.WEXITED); len(got) != 0 {
		t.Fatalf("pid 3 (not pushed) took %v", got)
	}
	if got := takeAll(t, &z, -6, abi.WEXITED); !equal(got, []int32{6}) {
		t.Fatalf("group 6 took %v", got)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{5}) {
		t.Fatalf("any took %v", got)
	}
}

func TestPushedZombiesOptionsThatNeedTheSupervisor(t *testing.T) {
	var z zombies
	z.push(exitEvent(5, 1, 105), true)
	for _, o := range []int32{0, abi.WSTOPPED, abi.WEXITED | abi.WNOWAIT} {
		if got := takeAll(t, &z, -1, o); len(got) != 0 {
			t.Fatalf("options %#x took %v", o, got)
		}
	}
	// Stops asked for: fine until a stop or continue event arrives.
	if got := takeAll(t, &z, -1, abi.WEXITED|abi.WSTOPPED); !equal(got, []int32{5}) {
		t.Fatalf("WEXITED|WSTOPPED before any stop took %v", got)
	}
	z.push(exitEvent(6, 1, 106), true)
	z.push(ipc.ChildEvent{Pid: 7}, true) // a stop or continue
	if got := takeAll(t, &z, -1, abi.WEXITED|abi.WUNTRACED); len(got) != 0 {
		t.Fatalf("WUNTRACED after a stop event took %v", got)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{6}) {
		t.Fatalf("WEXITED after a stop event took %v", got)
	}
}

func TestPushedZombiesCloneRule(t *testing.T) {
	var wclone uint32 = abi.WEXITED | abi.WCLONE
	var z zombies
	e := exitEvent(5, 1, 105)
	e.Zombie.ExitSignal = abi.SIGUSR1
	z.push(e, true)
	z.push(exitEvent(6, 1, 106), true)
	if got := takeAll(t, &z, 5, abi.WEXITED); len(got) != 0 {
		t.Fatalf("a clone child without __WCLONE: took %v", got)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{6}) {
		t.Fatalf("without __WCLONE took %v", got)
	}
	z.push(exitEvent(7, 1, 107), true)
	if got := takeAll(t, &z, -1, int32(wclone)); !equal(got, []int32{5}) {
		t.Fatalf("__WCLONE took %v", got)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED|abi.WALL); !equal(got, []int32{7}) {
		t.Fatalf("__WALL took %v", got)
	}
}

func TestPushedZombiesNotKept(t *testing.T) {
	var z zombies
	z.push(exitEvent(5, 1, 105), false) // the process reaps its children
	z.push(ipc.ChildEvent{Pid: 6, Exited: true}, true)
	if got := takeAll(t, &z, -1, abi.WEXITED); len(got) != 0 {
		t.Fatalf("took %v", got)
	}
}

// A zombie an OpWait reaped is never taken again, whether its event
// arrived before the reply or after.
func TestPushedZombiesAndOpWait(t *testing.T) {
	var z zombies
	z.push(exitEvent(5, 1, 105), true)
	z.begin()
	if got := takeAll(t, &z, -1, abi.WEXITED); len(got) != 0 {
		t.Fatalf("took %v while an OpWait is in flight", got)
	}
	z.done(kernel.WaitResult{Pid: 5, Code: abi.CLD_EXITED}, nil, abi.WEXITED)
	if got := takeAll(t, &z, -1, abi.WEXITED); len(got) != 0 {
		t.Fatalf("took %v after OpWait reaped it", got)
	}

	z.begin()
	z.done(kernel.WaitResult{Pid: 6, Code: abi.CLD_KILLED}, nil, abi.WEXITED)
	z.push(exitEvent(6, 1, 106), true) // its event, late
	if got := takeAll(t, &z, -1, abi.WEXITED); len(got) != 0 {
		t.Fatalf("took %v whose event came after OpWait reaped it", got)
	}
	z.push(exitEvent(6, 1, 106), true) // a later child with the same pid
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{6}) {
		t.Fatalf("a reused pid: took %v", got)
	}

	// Reports that reap nothing leave the set alone.
	z.push(exitEvent(7, 1, 107), true)
	for _, c := range []struct {
		r       kernel.WaitResult
		options int32
	}{
		{kernel.WaitResult{Pid: 7, Code: abi.CLD_EXITED}, abi.WEXITED | abi.WNOWAIT},
		{kernel.WaitResult{Pid: 7, Code: abi.CLD_STOPPED}, abi.WSTOPPED},
		{kernel.WaitResult{}, abi.WEXITED},
	} {
		z.begin()
		z.done(c.r, nil, c.options)
	}
	if got := takeAll(t, &z, -1, abi.WEXITED); !equal(got, []int32{7}) {
		t.Fatalf("took %v, want [7]", got)
	}
}

// An OpWait begun while a local take is sending its OpReap goes out after
// it: the supervisor must see the zombie gone.
func TestPushedZombieReapGoesOutBeforeAnOpWait(t *testing.T) {
	var z zombies
	z.push(exitEvent(5, 1, 105), true)
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	inReap, release, took := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		z.take(-1, abi.WEXITED, func(int32) {
			close(inReap)
			<-release
			note("reap")
		})
		close(took)
	}()
	<-inReap
	begun := make(chan struct{})
	go func() {
		z.begin()
		note("begin")
		close(begun)
	}()
	for range 100 {
		runtime.Gosched() // let begin get as far as it can
	}
	close(release)
	<-took
	<-begun
	if len(order) != 2 || order[0] != "reap" {
		t.Fatalf("order %v, want the OpReap before the OpWait", order)
	}
	z.done(kernel.WaitResult{}, nil, abi.WEXITED)
}
