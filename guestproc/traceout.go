package guestproc

import (
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
)

// The --trace-out timeline is descriptor ipc.GuestprocTraceOutFD,
// inherited at spawn and kept for the guestproc's whole life, like the
// --trace output (trace.go); its events are written with one write(2)
// each through the same traceFD.
var (
	traceOutOnce   sync.Once
	traceOutWriter *kernel.TraceOut
)

// traceOut returns the timeline writer of a process started with start,
// or nil when the tree has no timeline.
func traceOut(start *ipc.Start) *kernel.TraceOut {
	if !start.TraceOut {
		return nil
	}
	traceOutOnce.Do(func() {
		traceOutWriter = kernel.NewTraceOut(traceFD(ipc.GuestprocTraceOutFD), start.TraceOutMinUs)
	})
	return traceOutWriter
}
