package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// prlimit(2) of another process of the tree: the caller's kernel asks its
// Host, whose supervisor forwards the question to the target's guestproc;
// there PrlimitFrom makes Linux's checks against the caller's credentials
// and applies it as the target's own setrlimit would.

// PrlimitCaller is what the target needs to know of prlimit's caller:
// its real ids and whether CAP_SYS_RESOURCE is in its effective set.
type PrlimitCaller struct {
	UID, GID    uint32
	SysResource bool
}

// PrlimitHost is a Host that reaches the limits of the tree's other
// processes. Errors are abi.Errno values: ESRCH for a pid that is not in
// the tree, or not running (a zombie, a stopped process).
type PrlimitHost interface {
	PrlimitOther(pid int32, res uint32, newLim *abi.Rlimit, c PrlimitCaller) (abi.Rlimit, error)
}

// prlimitOther is prlimit64 of pid, not the caller's own process.
func (t *Task) prlimitOther(pid int32, res uint32, newLim *abi.Rlimit) (abi.Rlimit, error) {
	if pid < 0 {
		return abi.Rlimit{}, abi.ESRCH
	}
	if t.hasTid(pid) {
		return t.Proc.prlimit(res, newLim) // a thread of its own: the same limits
	}
	h, ok := t.Proc.Kernel.Host.(PrlimitHost)
	if !ok {
		return abi.Rlimit{}, abi.ESRCH
	}
	c := t.Proc.Creds()
	return h.PrlimitOther(pid, res, newLim, PrlimitCaller{UID: c.RUID, GID: c.RGID,
		SysResource: c.capable(abi.CAP_SYS_RESOURCE)})
}

// PrlimitFrom is prlimit(2) of this process by another one, c: Linux's
// check_prlimit_permission (the caller's real ids must be all of the
// target's user and group ids, or it needs CAP_SYS_RESOURCE), then
// do_prlimit with the caller's capability for raising a hard limit.
func (p *Process) PrlimitFrom(res uint32, newLim *abi.Rlimit, c PrlimitCaller) (abi.Rlimit, error) {
	cr := p.Creds()
	same := c.UID == cr.RUID && c.UID == cr.EUID && c.UID == cr.SUID &&
		c.GID == cr.RGID && c.GID == cr.EGID && c.GID == cr.SGID
	if !same && !c.SysResource {
		return abi.Rlimit{}, abi.EPERM
	}
	return p.prlimitAs(res, newLim, &c.SysResource)
}
