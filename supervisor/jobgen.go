package supervisor

// The job-control generation: a counter in a memfd page every guestproc
// maps read-only (descriptor ipc.GuestprocJobGenFD at its start). The
// supervisor bumps it whenever something a terminal-access verdict
// depends on may have changed: the guest foreground group (tcsetpgrp), a
// process group or session (setpgid, setsid), a process's end (orphaned
// groups, reparenting) and elfuse's own place on the host terminal (it was
// stopped or continued). A guestproc may reuse a "go ahead" verdict while
// the counter has not moved, so a foreground shell's terminal reads need
// no round trip (guestproc/jobctl.go).

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// jobGen is the supervisor's side of the counter.
type jobGen struct {
	file *os.File // inherited by guestprocs
	mem  []byte
}

// newJobGen makes the counter page, or returns nil when the host refuses
// (guestprocs then always ask).
func newJobGen() (*jobGen, error) {
	fd, err := unix.MemfdCreate("elfuse-jobgen", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("job generation memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(os.Getpagesize())); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("job generation memfd: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("job generation memfd: %w", err)
	}
	return &jobGen{file: os.NewFile(uintptr(fd), "jobgen"), mem: mem}, nil
}

// bump moves the counter; safe on a nil jobGen.
func (g *jobGen) bump() {
	if g != nil {
		addJobGen(g.mem)
	}
}
