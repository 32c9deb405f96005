package abi

// STUB: owned by the signals helper, replaced wholesale.

// StackT is struct stack_t (sigaltstack).
type StackT struct {
	SP    uint64
	Flags int32
	_     int32
	Size  uint64
}

// STUB (added by the files helper; the signals helper's versions replace
// these).

// SIGPIPE is sent on a write to a pipe without readers.
const SIGPIPE = 13

// Siginfo is struct siginfo.
type Siginfo struct{}

// SigSet is a kernel sigset_t: bit sig-1 stands for signal sig.
type SigSet uint64
