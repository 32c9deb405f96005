package kernel

// STUB: owned by the signals helper, replaced wholesale.

import (
	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// SignalHandlers are a process's signal dispositions.
type SignalHandlers struct{}

// NewSignalHandlers returns all-default dispositions.
func NewSignalHandlers() *SignalHandlers { return &SignalHandlers{} }

// TaskSignals is a thread's pending-signal state.
type TaskSignals struct{}

// HandleException turns a CPU exception into a guest signal.
func (t *Task) HandleException(e hvf.Exit) {}

// DeliverSignals runs after every exit: it delivers the next deliverable
// pending signal by building a frame, or applies the default action.
func (t *Task) DeliverSignals() {}

// STUB (added by the files helper so write and ppoll compile against the
// signals helper's API; the real versions replace these).

// SendSignal queues sig for this thread; nil info means sent by the
// process itself (SI_USER), like Linux's send_sig.
func (t *Task) SendSignal(sig int, info *abi.Siginfo) {}

// SetTemporarySigMask installs mask for the length of a blocking call.
func (t *Task) SetTemporarySigMask(mask abi.SigSet) {}

// RestoreTemporarySigMask ends SetTemporarySigMask.
func (t *Task) RestoreTemporarySigMask(interrupted bool) {}
