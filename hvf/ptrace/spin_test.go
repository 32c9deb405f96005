package ptrace

import "testing"

// TestWaitsWithoutSpin runs notify and gadget cases with the yielding
// waits off (ELFUSE_PTRACE_SPIN=0): the blocking waits alone must do.
func TestWaitsWithoutSpin(t *testing.T) {
	old := spinOn
	spinOn = false
	t.Cleanup(func() { spinOn = old })
	t.Run("answer", TestNotifyAnswer)
	t.Run("slow", TestNotifySlowSyscall)
	t.Run("map while held", TestHelperMapsWhileHeldWithoutHalting)
	t.Run("fault and kick", TestNotifyFaultAndKick)
	t.Run("faults", TestFaultsBecomeExceptions)
}
