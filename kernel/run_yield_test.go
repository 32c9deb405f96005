package kernel

import (
	"testing"
	"time"
)

// A task yields once it has handled exits back to back for yieldEvery,
// and a long handling (a wait that parked) restarts the clock instead.
func TestYieldDue(t *testing.T) {
	task := &Task{}
	t0 := time.Unix(1000, 0)
	short := 30 * time.Microsecond // one exit's handling
	if task.yieldDue(t0, t0.Add(short)) {
		t.Fatal("the first exit yielded")
	}
	// Busy exits every 100 µs: no yield before yieldEvery, one at it.
	now := t0.Add(short)
	yields := 0
	for i := 0; i < 120; i++ {
		now = now.Add(100 * time.Microsecond)
		if task.yieldDue(now.Add(-short), now) {
			yields++
			task.lastYield = now // what maybeYield does after yielding
		}
	}
	// 12 ms of busy exits: two yields, at 5 and 10 ms.
	if yields != 2 {
		t.Fatalf("12 ms of back-to-back exits made %d yields, want 2", yields)
	}
	// A handling that took parkedAfter counts as a pass through the
	// scheduler: the next busy exits start from it.
	start := now.Add(time.Millisecond)
	now = start.Add(parkedAfter)
	if task.yieldDue(start, now) {
		t.Fatal("a long (parked) handling yielded")
	}
	if !task.lastYield.Equal(now) {
		t.Fatalf("the clock restarted at %v, want %v", task.lastYield, now)
	}
	if task.yieldDue(now.Add(yieldEvery-time.Microsecond-short), now.Add(yieldEvery-time.Microsecond)) {
		t.Fatal("yielded before yieldEvery after a parked handling")
	}
	if !task.yieldDue(now.Add(yieldEvery-short), now.Add(yieldEvery)) {
		t.Fatal("no yield at yieldEvery after a parked handling")
	}
}
