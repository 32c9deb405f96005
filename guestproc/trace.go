package guestproc

import (
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"golang.org/x/sys/unix"
)

// The --trace output is descriptor ipc.GuestprocTraceFD, inherited at
// spawn and kept for the guestproc's whole life (a recycled guestproc
// serves later processes of the same traced tree).
var (
	traceOnce   sync.Once
	traceWriter *kernel.Tracer
)

// tracer returns the tracer of a process started with start, or nil when
// the tree is not traced.
func tracer(start *ipc.Start) *kernel.Tracer {
	if !start.Trace {
		return nil
	}
	traceOnce.Do(func() { traceWriter = kernel.NewTracer(traceFD(ipc.GuestprocTraceFD)) })
	return traceWriter
}

// traceFD writes each line with one write(2), so that the lines of every
// guestproc sharing the descriptor stay whole.
type traceFD int

func (fd traceFD) Write(b []byte) (int, error) {
	for {
		n, err := unix.Write(int(fd), b)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// A non-blocking pipe or terminal that is full: wait for room.
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
			continue
		}
		return n, err
	}
}

// traceExit writes the "+++ exited +++" line of a traced process.
func traceExit(start *ipc.Start, status uint32) {
	if tr := tracer(start); tr != nil {
		tr.TraceExit(start.Pid, status)
	}
}
