package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"golang.org/x/sys/unix"
)

// The --trace-out file is one JSON object, {"traceEvents":[...],
// "displayTimeUnit":"ms"}. The supervisor writes its opening here and its
// closing (one last metadata event, then "]...}") when the tree ended;
// in between every guestproc appends its events, each a line ending in
// ",\n" written with one write(2) to the shared O_APPEND descriptor
// (kernel/traceout.go). A supervisor killed by SIGKILL leaves the file
// without its closing: Perfetto and chrome://tracing still load it.

// traceOutOpening starts the file.
const traceOutOpening = "{\"traceEvents\":[\n"

// OpenTraceOut creates (or truncates) the --trace-out file at the host
// path and writes its opening. The supervisor hands it to every guestproc
// it starts as descriptor ipc.GuestprocTraceOutFD.
func OpenTraceOut(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--trace-out: %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	if _, err := f.WriteString(traceOutOpening); err != nil {
		f.Close()
		return nil, fmt.Errorf("--trace-out: %s: %w", path, err)
	}
	return f, nil
}

// CloseTraceOut ends the --trace-out file once no guestproc writes to it
// any more: a metadata event with elfuse's exit code, then the closing
// brackets; and closes it.
func CloseTraceOut(f *os.File, exitCode int) error {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	end := strconv.FormatInt(ts.Nano()/1000, 10)
	closing := `{"ph":"M","name":"elfuse","pid":0,"tid":0,"args":{"exit_code":` + strconv.Itoa(exitCode) +
		`,"end_us":` + end + `,"end_time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}}` +
		"\n],\"displayTimeUnit\":\"ms\"}\n"
	_, err := f.WriteString(closing)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// traceOutFiles returns the descriptors a guestproc inherits with the
// timeline at ipc.GuestprocTraceOutFD (numbers below it not in files stay
// closed); files itself when no timeline is written.
func (s *supervisor) traceOutFiles(files []*os.File) []*os.File {
	if s.cfg.TraceOut == nil {
		return files
	}
	for len(files) < ipc.GuestprocTraceOutFD-3 {
		files = append(files, nil)
	}
	return append(files, s.cfg.TraceOut)
}
