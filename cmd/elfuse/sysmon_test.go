package main

import (
	"runtime"
	"testing"
)

// The goroutine quietSysmon leaves in pause(2) must not keep the runtime
// from stopping the world: collections and a GOMAXPROCS change both need
// every P.
func TestQuietSysmonLetsTheWorldStop(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	quietSysmon() // a no-op when an earlier run of the test made the anchor
	after := runtime.GOMAXPROCS(0)
	if after != before && after != withAnchor(before) {
		t.Fatalf("GOMAXPROCS %d -> %d: quietSysmon adds the anchor's P", before, after)
	}
	quietSysmon()
	if got := runtime.GOMAXPROCS(0); got != after {
		t.Fatalf("GOMAXPROCS %d -> %d at the second call: one anchor only", after, got)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // stops the world too
	first, wakes := ms.NumGC, theAnchor.wakes.Load()
	for i := 0; i < 10; i++ {
		runtime.GC()
	}
	// A collection stops the goroutine a few times (two stops of the
	// world, the scan of its stack). One that it had to signal hundreds
	// of times would be the spin preemptPoint avoids.
	if n := theAnchor.wakes.Load() - wakes; n > 10*25 {
		t.Errorf("the paused goroutine woke %d times for 10 collections", n)
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.ReadMemStats(&ms)
	if ms.NumGC < first+10 {
		t.Fatalf("%d collections after 10 runtime.GC calls", ms.NumGC-first)
	}
}

// A let-go anchor parks after its next wake-up and is not woken again by
// collections (no signal reaches a parked goroutine); held again, it is.
func TestAnchorLetGoParks(t *testing.T) {
	quietSysmon()
	defer setAnchor(true)
	setAnchor(false)
	runtime.GC() // its stop-the-world wakes the anchor, which then parks
	parked := theAnchor.wakes.Load()
	for i := 0; i < 5; i++ {
		runtime.GC()
	}
	if n := theAnchor.wakes.Load() - parked; n != 0 {
		t.Fatalf("a let-go anchor woke %d times in 5 collections", n)
	}
	setAnchor(true)
	for i := 0; i < 5 && theAnchor.wakes.Load() == parked; i++ {
		runtime.GC()
	}
	if theAnchor.wakes.Load() == parked {
		t.Fatal("a held anchor was never stopped by 5 collections: it is not holding a P")
	}
}

// With the anchor's P taken, a process keeps at least two for its work:
// one a single-threaded guest's vCPU thread holds through its raw waits,
// one for every other goroutine. One CPU (GOMAXPROCS 1) used to leave
// one, and the control socket's reader waited for sysmon's 10 ms.
func TestWithAnchorLeavesTwoWorkPs(t *testing.T) {
	for n, want := range map[int]int{1: 3, 2: 3, 3: 4, 8: 9} {
		if got := withAnchor(n); got != want {
			t.Errorf("withAnchor(%d) = %d, want %d", n, got, want)
		}
	}
}
