package ptrace

// Which pages of its mappings the guest wrote since the last look (package
// hvf/wp): the ground for a fork that copies only what changed since the
// previous one (kernel/mm_track.go; docs/performance.md, sessions 21-23).

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
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

// WriteTracker implements hvf.GuestWriteTracker: the stub's tracker, made
// by TrackWrites on the first call and kept with the machine (a recycled
// stub keeps its registrations of the mappings it keeps). A failure is
// remembered: the next calls return it at once.
func (m *machine) WriteTracker() (hvf.WriteScanner, error) {
	r := m.root()
	r.mu.Lock()
	t, err, closed := r.writes, r.writesErr, r.closed
	r.mu.Unlock()
	if closed {
		return nil, errors.New("ptrace: write tracker of a closed machine")
	}
	if t != nil || err != nil {
		return scanner(t, err)
	}
	t, err = m.TrackWrites()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		if t != nil {
			t.Close()
		}
		return nil, errors.New("ptrace: write tracker of a closed machine")
	}
	r.writes, r.writesErr = t, err
	return scanner(t, err)
}

// scanner keeps a nil *wp.Tracker from becoming a non-nil interface.
func scanner(t *wp.Tracker, err error) (hvf.WriteScanner, error) {
	if err != nil {
		return nil, err
	}
	return t, nil
}
