package abi

// STUB: owned by the signals helper, replaced wholesale.

// StackT is struct stack_t (sigaltstack).
type StackT struct {
	SP    uint64
	Flags int32
	_     int32
	Size  uint64
}
