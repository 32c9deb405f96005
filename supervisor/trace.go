package supervisor

import (
	"fmt"
	"os"

	"github.com/elfuse/elfuse/ipc"
	"golang.org/x/sys/unix"
)

// OpenTrace opens the output of --trace: the host file path (created or
// truncated, appended to so that the lines of every guestproc land whole),
// or, for "", a duplicate of elfuse's stderr. The supervisor hands it to
// every guestproc it starts as descriptor ipc.GuestprocTraceFD.
func OpenTrace(path string) (*os.File, error) {
	if path == "" {
		fd, err := unix.FcntlInt(uintptr(unix.Stderr), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("--trace: duplicate stderr: %w", err)
		}
		return os.NewFile(uintptr(fd), "trace"), nil
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--trace: %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// traceFiles returns the descriptors a guestproc inherits with the trace
// output at ipc.GuestprocTraceFD (the numbers below it that are not in
// files stay closed); files itself when not tracing.
func (s *supervisor) traceFiles(files []*os.File) []*os.File {
	if s.cfg.Trace == nil {
		return files
	}
	for len(files) < ipc.GuestprocTraceFD-3 {
		files = append(files, nil)
	}
	return append(files, s.cfg.Trace)
}
