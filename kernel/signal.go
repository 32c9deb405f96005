package kernel

// STUB: owned by the signals helper, replaced wholesale.

import "github.com/elfuse/elfuse/hvf"

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

// Kill queues sig for the whole process. STUB: declared by the proc helper
// (interval timers send SIGALRM through it); the signals helper's version
// replaces it.
func (p *Process) Kill(sig int) {}
