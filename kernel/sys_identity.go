package kernel

import (
	"slices"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Process ids and credentials. Pids come from Host (the supervisor owns the
// guest PID namespace); credentials live in the process's Creds record, and
// the host threads serving the process carry its fs ids, groups and
// effective capabilities for the host's file-access checks
// (creds_thread.go); the host process's real and effective ids stay
// elfuse's.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_GETPID:    {Name: "getpid", Fn: Getpid},
		abi.SYS_GETPPID:   {Name: "getppid", Fn: Getppid},
		abi.SYS_GETTID:    {Name: "gettid", Fn: Gettid},
		abi.SYS_GETUID:    {Name: "getuid", Fn: Getuid},
		abi.SYS_GETEUID:   {Name: "geteuid", Fn: Geteuid},
		abi.SYS_GETGID:    {Name: "getgid", Fn: Getgid},
		abi.SYS_GETEGID:   {Name: "getegid", Fn: Getegid},
		abi.SYS_GETRESUID: {Name: "getresuid", Fn: Getresuid},
		abi.SYS_GETRESGID: {Name: "getresgid", Fn: Getresgid},
		abi.SYS_GETGROUPS: {Name: "getgroups", Fn: Getgroups},
		abi.SYS_SETUID: {Name: "setuid", Fn: Setuid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETGID: {Name: "setgid", Fn: Setgid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETREUID: {Name: "setreuid", Fn: Setreuid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETREGID: {Name: "setregid", Fn: Setregid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETRESUID: {Name: "setresuid", Fn: Setresuid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETRESGID: {Name: "setresgid", Fn: Setresgid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETFSUID: {Name: "setfsuid", Fn: Setfsuid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETFSGID: {Name: "setfsgid", Fn: Setfsgid, Support: Partial,
			Note: credsNote},
		abi.SYS_SETGROUPS: {Name: "setgroups", Fn: Setgroups, Support: Partial,
			Note: credsNote},
		abi.SYS_GETPGRP: {Name: "getpgrp", Fn: Getpgrp},
		abi.SYS_GETPGID: {Name: "getpgid", Fn: Getpgid, Support: Partial,
			Note: "own process only until the supervisor answers for others (ESRCH)"},
		abi.SYS_GETSID: {Name: "getsid", Fn: Getsid, Support: Partial,
			Note: "own process only until the supervisor answers for others (ESRCH)"},
		abi.SYS_SETPGID: {Name: "setpgid", Fn: Setpgid, Support: Partial,
			Note: "own process only; other pids ESRCH until the supervisor owns groups"},
		abi.SYS_SETSID: {Name: "setsid", Fn: Setsid, Support: Partial,
			Note: "single-process view: the first process leads its group, so EPERM as Linux says for a group leader"},
	})
}

// credsNote is the support note of the calls that change credentials.
const credsNote = "per process, not per thread; file access follows them only when elfuse runs as root " +
	"(creds_thread.go), and the host process's real and effective ids stay elfuse's"

// noID is the (uid_t)-1 "leave unchanged" / invalid id.
const noID = ^uint32(0)

// ngroupsMax is Linux's NGROUPS_MAX.
const ngroupsMax = 65536

// Getpid implements Linux syscall getpid(2).
func Getpid(t *Task, a *Args) (uint64, error) { return uint64(t.Proc.Kernel.Host.Pid()), nil }

// Getppid implements Linux syscall getppid(2).
func Getppid(t *Task, a *Args) (uint64, error) { return uint64(t.Proc.Kernel.Host.Ppid()), nil }

// Gettid implements Linux syscall gettid(2).
func Gettid(t *Task, a *Args) (uint64, error) { return uint64(t.Tid), nil }

// Getuid implements Linux syscall getuid(2).
func Getuid(t *Task, a *Args) (uint64, error) { return uint64(t.Proc.Creds().RUID), nil }

// Geteuid implements Linux syscall geteuid(2).
func Geteuid(t *Task, a *Args) (uint64, error) { return uint64(t.Proc.Creds().EUID), nil }

// Getgid implements Linux syscall getgid(2).
func Getgid(t *Task, a *Args) (uint64, error) { return uint64(t.Proc.Creds().RGID), nil }

// Getegid implements Linux syscall getegid(2).
func Getegid(t *Task, a *Args) (uint64, error) { return uint64(t.Proc.Creds().EGID), nil }

// copyOutIDs writes three ids to three guest pointers, as getresuid does.
func copyOutIDs(t *Task, a *Args, ids [3]uint32) error {
	for i, id := range ids {
		if err := copyOutU32(t, a.Addr(i), id); err != nil {
			return err
		}
	}
	return nil
}

// Getresuid implements Linux syscall getresuid(2).
func Getresuid(t *Task, a *Args) (uint64, error) {
	c := t.Proc.Creds()
	return 0, copyOutIDs(t, a, [3]uint32{c.RUID, c.EUID, c.SUID})
}

// Getresgid implements Linux syscall getresgid(2).
func Getresgid(t *Task, a *Args) (uint64, error) {
	c := t.Proc.Creds()
	return 0, copyOutIDs(t, a, [3]uint32{c.RGID, c.EGID, c.SGID})
}

// Getgroups implements Linux syscall getgroups(2).
func Getgroups(t *Task, a *Args) (uint64, error) {
	size := a.Int(0)
	if size < 0 {
		return 0, abi.EINVAL
	}
	groups := t.Proc.Creds().Groups
	if size == 0 {
		return uint64(len(groups)), nil
	}
	if int(size) < len(groups) {
		return 0, abi.EINVAL
	}
	b := make([]byte, 0, 4*len(groups))
	for _, g := range groups {
		b = append(b, byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
	}
	if _, err := t.CopyOut(a.Addr(1), b); err != nil {
		return 0, err
	}
	return uint64(len(groups)), nil
}

// updateCreds applies fn to the process's credentials under the lock; fn
// returns an errno to refuse the change, leaving the record untouched.
func (p *Process) updateCreds(fn func(c *Creds) error) error {
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.st.Creds.clone()
	if err := fn(&c); err != nil {
		return err
	}
	x.st.Creds = c
	p.credsChanged()
	return nil
}

// updateUIDs applies a uid change and then Linux's capability fix-ups.
func (p *Process) updateUIDs(fn func(ids idSet) error) error {
	keep := p.State().KeepCaps
	return p.updateCreds(func(c *Creds) error {
		old := *c
		if err := fn(uids(c)); err != nil {
			return err
		}
		fixCapsAfterSetID(&old, c, keep)
		return nil
	})
}

// idSet is one of the two credential families (uids or gids) seen through
// pointers, so the set*id rules are written once.
type idSet struct {
	r, e, s, fs *uint32
	// capable: the caller holds CAP_SETUID (CAP_SETGID for gids).
	capable bool
}

func uids(c *Creds) idSet {
	return idSet{&c.RUID, &c.EUID, &c.SUID, &c.FSUID, c.capable(abi.CAP_SETUID)}
}

func gids(c *Creds) idSet {
	return idSet{&c.RGID, &c.EGID, &c.SGID, &c.FSGID, c.capable(abi.CAP_SETGID)}
}

// setID is the core of setuid/setgid.
func (ids idSet) setID(id uint32) error {
	if id == noID {
		return abi.EINVAL
	}
	switch {
	case ids.capable:
		*ids.r, *ids.s = id, id
	case id != *ids.r && id != *ids.s:
		return abi.EPERM
	}
	*ids.e, *ids.fs = id, id
	return nil
}

// setREID is the core of setreuid/setregid.
func (ids idSet) setREID(r, e uint32) error {
	oldR, oldE, oldS := *ids.r, *ids.e, *ids.s
	if r != noID && r != oldR && r != oldE && !ids.capable {
		return abi.EPERM
	}
	if e != noID && e != oldR && e != oldE && e != oldS && !ids.capable {
		return abi.EPERM
	}
	if r != noID {
		*ids.r = r
	}
	if e != noID {
		*ids.e = e
	}
	if r != noID || (e != noID && e != oldR) {
		*ids.s = *ids.e
	}
	*ids.fs = *ids.e
	return nil
}

// setRESID is the core of setresuid/setresgid.
func (ids idSet) setRESID(r, e, s uint32) error {
	if !ids.capable {
		for _, id := range [3]uint32{r, e, s} {
			if id != noID && id != *ids.r && id != *ids.e && id != *ids.s {
				return abi.EPERM
			}
		}
	}
	if r != noID {
		*ids.r = r
	}
	if e != noID {
		*ids.e = e
	}
	if s != noID {
		*ids.s = s
	}
	*ids.fs = *ids.e
	return nil
}

// setFSID is the core of setfsuid/setfsgid; it returns the previous value
// and never fails (Linux reports failure only by the id staying the same).
func (ids idSet) setFSID(id uint32) uint32 {
	old := *ids.fs
	if id == noID {
		return old
	}
	if ids.capable || id == *ids.r || id == *ids.e || id == *ids.s || id == *ids.fs {
		*ids.fs = id
	}
	return old
}

// Setuid implements Linux syscall setuid(2).
func Setuid(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.updateUIDs(func(ids idSet) error { return ids.setID(a.Uint(0)) })
}

// Setgid implements Linux syscall setgid(2).
func Setgid(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.updateCreds(func(c *Creds) error { return gids(c).setID(a.Uint(0)) })
}

// Setreuid implements Linux syscall setreuid(2).
func Setreuid(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.updateUIDs(func(ids idSet) error { return ids.setREID(a.Uint(0), a.Uint(1)) })
}

// Setregid implements Linux syscall setregid(2).
func Setregid(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.updateCreds(func(c *Creds) error { return gids(c).setREID(a.Uint(0), a.Uint(1)) })
}

// Setresuid implements Linux syscall setresuid(2).
func Setresuid(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.updateUIDs(func(ids idSet) error {
		return ids.setRESID(a.Uint(0), a.Uint(1), a.Uint(2))
	})
}

// Setresgid implements Linux syscall setresgid(2).
func Setresgid(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.updateCreds(func(c *Creds) error {
		return gids(c).setRESID(a.Uint(0), a.Uint(1), a.Uint(2))
	})
}

// Setfsuid implements Linux syscall setfsuid(2).
func Setfsuid(t *Task, a *Args) (uint64, error) {
	var old uint32
	_ = t.Proc.updateCreds(func(c *Creds) error {
		before := *c
		old = uids(c).setFSID(a.Uint(0))
		fixCapsAfterSetFSID(&before, c)
		return nil
	})
	return uint64(old), nil
}

// Setfsgid implements Linux syscall setfsgid(2).
func Setfsgid(t *Task, a *Args) (uint64, error) {
	var old uint32
	_ = t.Proc.updateCreds(func(c *Creds) error { old = gids(c).setFSID(a.Uint(0)); return nil })
	return uint64(old), nil
}

// Setgroups implements Linux syscall setgroups(2).
func Setgroups(t *Task, a *Args) (uint64, error) {
	size := a.Int(0)
	if size < 0 || size > ngroupsMax {
		return 0, abi.EINVAL
	}
	if c := t.Proc.Creds(); !c.capable(abi.CAP_SETGID) {
		return 0, abi.EPERM
	}
	b := make([]byte, 4*int(size))
	if _, err := t.CopyIn(a.Addr(1), b); err != nil {
		return 0, err
	}
	groups := make([]uint32, size)
	for i := range groups {
		groups[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		if groups[i] == noID {
			return 0, abi.EINVAL
		}
	}
	// Linux keeps the list sorted (groups_sort), and getgroups shows it so.
	slices.Sort(groups)
	return 0, t.Proc.updateCreds(func(c *Creds) error {
		if !c.capable(abi.CAP_SETGID) {
			return abi.EPERM
		}
		c.Groups = groups
		return nil
	})
}

// sessionHost is the part of Host that owns process groups and sessions once
// the supervisor manages them. Until Host implements it, the kernel answers
// for the single process it runs: pgid == sid == its own pid.
type sessionHost interface {
	Getpgid(pid int32) (int32, error)
	Getsid(pid int32) (int32, error)
	Setpgid(pid, pgid int32) error
	Setsid() (int32, error)
}

// ownPid reports whether pid (0 = self) names the calling process.
func (t *Task) ownPid(pid int32) bool {
	return pid == 0 || pid == t.Proc.Kernel.Host.Pid()
}

// groupIDs returns the process's pgid and sid in the single-process view.
func (p *Process) groupIDs() (pgid, sid int32) {
	pid := p.Kernel.Host.Pid()
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	pgid, sid = x.pgid, x.sid
	if pgid == 0 {
		pgid = pid
	}
	if sid == 0 {
		sid = pid
	}
	return pgid, sid
}

// Getpgid implements Linux syscall getpgid(2).
func Getpgid(t *Task, a *Args) (uint64, error) {
	if sh, ok := t.Proc.Kernel.Host.(sessionHost); ok {
		pg, err := sh.Getpgid(a.Int(0))
		return uint64(pg), err
	}
	if !t.ownPid(a.Int(0)) {
		return 0, abi.ESRCH
	}
	pg, _ := t.Proc.groupIDs()
	return uint64(pg), nil
}

// Getpgrp implements Linux syscall getpgrp(2).
func Getpgrp(t *Task, a *Args) (uint64, error) { return Getpgid(t, &Args{}) }

// Getsid implements Linux syscall getsid(2).
func Getsid(t *Task, a *Args) (uint64, error) {
	if sh, ok := t.Proc.Kernel.Host.(sessionHost); ok {
		sid, err := sh.Getsid(a.Int(0))
		return uint64(sid), err
	}
	if !t.ownPid(a.Int(0)) {
		return 0, abi.ESRCH
	}
	_, sid := t.Proc.groupIDs()
	return uint64(sid), nil
}

// Setpgid implements Linux syscall setpgid(2).
func Setpgid(t *Task, a *Args) (uint64, error) {
	pid, pgid := a.Int(0), a.Int(1)
	if pgid < 0 {
		return 0, abi.EINVAL
	}
	if sh, ok := t.Proc.Kernel.Host.(sessionHost); ok {
		return 0, sh.Setpgid(pid, pgid)
	}
	if !t.ownPid(pid) {
		return 0, abi.ESRCH
	}
	self := t.Proc.Kernel.Host.Pid()
	if pgid == 0 {
		pgid = self
	}
	cur, sid := t.Proc.groupIDs()
	if sid == self {
		return 0, abi.EPERM // a session leader cannot change its group
	}
	if pgid != self && pgid != cur {
		return 0, abi.EPERM // no such group in the caller's session
	}
	x := t.Proc.ext()
	x.mu.Lock()
	x.pgid = pgid
	x.mu.Unlock()
	return 0, nil
}

// Setsid implements Linux syscall setsid(2).
func Setsid(t *Task, a *Args) (uint64, error) {
	if sh, ok := t.Proc.Kernel.Host.(sessionHost); ok {
		sid, err := sh.Setsid()
		return uint64(sid), err
	}
	self := t.Proc.Kernel.Host.Pid()
	if pgid, _ := t.Proc.groupIDs(); pgid == self {
		return 0, abi.EPERM // a process group with the caller's id exists
	}
	x := t.Proc.ext()
	x.mu.Lock()
	x.pgid, x.sid = self, self
	x.mu.Unlock()
	return uint64(self), nil
}
