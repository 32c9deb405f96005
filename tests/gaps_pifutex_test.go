package tests

import "testing"

// TestGapsPIFutex: priority-inheritance futexes (FUTEX_LOCK_PI, LOCK_PI2,
// TRYLOCK_PI, UNLOCK_PI) through pthread PTHREAD_PRIO_INHERIT mutexes
// (counter, trylock, robust owner death, a condition variable) and the raw
// word protocol, compared with native.
func TestGapsPIFutex(t *testing.T) {
	runProgram(t, progCase{src: "gaps_pifutex.c"})
}
