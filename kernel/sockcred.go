package kernel

import "golang.org/x/sys/unix"

// Socket credentials (SO_PEERCRED, SCM_CREDENTIALS) carry pids. The host
// kernel fills them with host pids: the guestproc serving the peer. Linux
// in a pid namespace shows them as the reader's namespace sees them, and
// 0 for a process outside it; elfuse's namespace is the supervisor's
// process tree, so a host pid becomes the guest pid of the live process
// its guestproc serves at the time of the call (guestprocs are recycled),
// and 0 when it serves none or is no guestproc at all.

// PidMapper is the optional part of a Host that translates pids between
// the guest namespace and the host (guestproc implements it). Each call
// answers for the moment it is made. A Host without it knows only its
// own pid.
type PidMapper interface {
	// PidOfHost returns the guest pid of the live process whose
	// guestproc is host pid host, 0 if none.
	PidOfHost(host int32) (int32, error)
	// HostPidOf returns the host pid of the guestproc serving live guest
	// process pid, 0 if none.
	HostPidOf(pid int32) (int32, error)
}

// pidMapper returns the kernel's PidMapper, if its Host is one.
func (p *Process) pidMapper() (PidMapper, bool) {
	if p.Kernel == nil || p.Kernel.Host == nil {
		return nil, false
	}
	m, ok := p.Kernel.Host.(PidMapper)
	return m, ok
}

// hostPidOf maps a guest pid in credentials the guest sends to the host's,
// which the host kernel checks against the sender (EPERM unless it is the
// sender's own, for an unprivileged one). A pid naming no live guest
// process becomes 0, which the host refuses as Linux refuses an unknown
// pid.
func (t *Task) hostPidOf(pid int32) int32 {
	if pid == t.Proc.Kernel.Host.Pid() {
		return int32(unix.Getpid())
	}
	if pid <= 0 {
		return pid
	}
	if m, ok := t.Proc.pidMapper(); ok {
		if h, err := m.HostPidOf(pid); err == nil {
			return h
		}
	}
	return 0
}

// guestPidOf maps a host pid in received credentials to the guest's: 0
// for a process outside the guest namespace.
func (t *Task) guestPidOf(pid int32) int32 {
	if pid == int32(unix.Getpid()) {
		return t.Proc.Kernel.Host.Pid()
	}
	if pid <= 0 {
		return 0
	}
	if m, ok := t.Proc.pidMapper(); ok {
		if g, err := m.PidOfHost(pid); err == nil {
			return g
		}
	}
	return 0
}
