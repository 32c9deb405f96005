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
	quietSysmon()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS %d after quietSysmon, want %d", got, before+1)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // stops the world too
	first := ms.NumGC
	for i := 0; i < 10; i++ {
		runtime.GC()
	}
	runtime.GOMAXPROCS(before + 1)
	runtime.ReadMemStats(&ms)
	if ms.NumGC < first+10 {
		t.Fatalf("%d collections after 10 runtime.GC calls", ms.NumGC-first)
	}
}
