package ptrace

// Which pages of its mappings the guest wrote since the last look (package
// hvf/wp): the ground for a fork that copies only what changed since the
// previous one (docs/performance.md, sessions 21 and 22). Not used by the
// fork yet.

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf/wp"
)

// TrackWrites starts tracking the guest's writes to its mappings: a
// userfaultfd made in the stub (one injected syscall; it belongs to the
// address space that makes it), taken by the tracer with pidfd_getfd, and
// the stub's pagemap. Call it from the machine's thread while the vCPU is
// not running; the Tracker may be used from any thread. Its ranges are
// guest (= stub) addresses. An error wrapping wp.ErrUnsupported says the
// host cannot.
func (m *machine) TrackWrites() (*wp.Tracker, error) {
	m = m.caller()
	if err := m.checkThread(); err != nil {
		return nil, err
	}
	sfd, err := m.inject(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|wp.UserModeOnly)
	if err != nil {
		return nil, fmt.Errorf("ptrace: userfaultfd in the stub: %v: %w", err, wp.ErrUnsupported)
	}
	ufd, err := unix.PidfdGetfd(m.root().pidfd, int(sfd), 0)
	m.inject(unix.SYS_CLOSE, sfd) // the stub never uses it
	if err != nil {
		return nil, fmt.Errorf("ptrace: take the stub's userfaultfd: %w", err)
	}
	t, err := wp.New(ufd, "/proc/"+strconv.Itoa(m.stubPid())+"/pagemap")
	if err != nil {
		return nil, fmt.Errorf("ptrace: %w", err)
	}
	return t, nil
}
