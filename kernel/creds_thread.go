package kernel

import (
	"slices"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Host credentials of the threads that serve a guest.
//
// Linux checks a file access with the fs ids, supplementary groups and
// effective capabilities of the calling thread, and keeps them per thread.
// Every task runs on a goroutine locked to its OS thread, and its handlers
// make their host calls there, so that thread carries, while it serves the
// guest, the guest process's fsuid, fsgid and groups and the guest's
// effective capabilities (within the host's permitted set): the host's
// own checks then say what Linux would say to the guest. The thread's
// real, effective and saved uids and gids and its permitted set never
// change, so elfuse can always take its own credentials back.
//
// When: Run gives the thread the process's credentials before the first
// syscall and gives elfuse's back when it returns, so a thread outside
// Run always carries elfuse's own. Every change of the record (set*id,
// setgroups, capset, prctl, exec, a fork child's state) bumps
// Process.credGen; at the start of each syscall a thread compares it with
// the generation it carries (one atomic load) and catches up, so the
// other threads of a process follow at their next syscall.
//
// Only where elfuse may: with CAP_SETUID and CAP_SETGID in its permitted
// set (root). Run by an ordinary user, elfuse changes nothing and the host
// checks with that user's credentials, as it always did.
//
// elfuse's own host accesses on these threads that the guest's credentials
// must not refuse go through Task.asHost; the host calls of the access
// family, which Linux checks with the real ids, through Task.withCreds.

// threadCreds is what a host thread carries for the checks of its file
// accesses.
type threadCreds struct {
	fsuid, fsgid uint32
	groups       []uint32
	// eff is the effective capability set.
	eff uint64
}

func (a *threadCreds) equal(b *threadCreds) bool {
	return a.fsuid == b.fsuid && a.fsgid == b.fsgid && a.eff == b.eff && slices.Equal(a.groups, b.groups)
}

// hostIdentity is elfuse's own identity, read once from a thread that
// still carries it.
type hostIdentity struct {
	own threadCreds
	// perm and inh are the host's permitted and inheritable sets, which
	// no thread changes.
	perm, inh uint64
	// dumpable is the host process's PR_GET_DUMPABLE: changing a
	// thread's fs ids clears it (commit_creds), and it is put back.
	dumpable bool
	// enabled: the host may give its threads other credentials.
	enabled bool
}

// theHostIdentity returns elfuse's identity. Its first call must come
// before any thread carries a guest's credentials, which only Run gives
// after calling it.
var theHostIdentity = sync.OnceValue(func() *hostIdentity {
	c := HostCreds()
	h := &hostIdentity{
		own:  threadCreds{fsuid: c.FSUID, fsgid: c.FSGID, groups: c.Groups, eff: c.Caps.Effective},
		perm: c.Caps.Permitted,
		inh:  c.Caps.Inheritable,
	}
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err == nil {
		h.dumpable = d == 1
	}
	const need = 1<<abi.CAP_SETUID | 1<<abi.CAP_SETGID
	h.enabled = h.perm&need == need
	// Host files elfuse reads once for every later process, and that
	// fsuid 0 alone may read (0400, owned by the host's euid).
	hostAuxv()
	return h
})

// forFiles returns what a thread serving a process with credentials c
// carries: the fs ids and groups, and the effective set within what the
// host may hold.
func (h *hostIdentity) forFiles(c *Creds) threadCreds {
	return threadCreds{fsuid: c.FSUID, fsgid: c.FSGID, groups: c.Groups, eff: c.Caps.Effective & h.perm}
}

// forAccess returns the credentials access(2) and faccessat(2) without
// AT_EACCESS check with (Linux's access_override_creds): the real ids,
// and the whole permitted set for a real uid 0, else no capability.
func (h *hostIdentity) forAccess(c *Creds) threadCreds {
	tc := threadCreds{fsuid: c.RUID, fsgid: c.RGID, groups: c.Groups}
	if c.RUID == 0 {
		tc.eff = c.Caps.Permitted & h.perm
	}
	return tc
}

// threadCredState is what a task knows of its host thread's credentials.
type threadCredState struct {
	// seen is the process's credGen+1 the thread caught up with; 0:
	// none yet.
	seen uint64
	// run: inside Run, on the task's locked thread (elsewhere, in unit
	// tests that call handlers, nothing changes the thread).
	run bool
	// guest: the thread carries on, not elfuse's own credentials.
	guest bool
	on    threadCreds
}

// credsChanged tells the process's threads that its credentials record
// changed.
func (p *Process) credsChanged() { p.credGen.Add(1) }

// startCreds gives the task's thread the process's credentials as Run
// begins.
// Preconditions: called on the task's own thread, locked to it.
func (t *Task) startCreds() {
	t.creds.run = true
	t.syncCreds()
}

// syncCreds gives the task's thread the process's current credentials.
// Preconditions: called on the task's own thread.
func (t *Task) syncCreds() {
	t.creds.seen = t.Proc.credGen.Load() + 1
	h := theHostIdentity()
	if !h.enabled || !t.creds.run {
		return
	}
	c := t.Proc.Creds()
	want := h.forFiles(&c)
	t.carry(h, &want)
}

// carry makes the task's thread carry want.
// Preconditions: called on the task's own thread; h.enabled.
func (t *Task) carry(h *hostIdentity, want *threadCreds) {
	if t.creds.guest && want.equal(&t.creds.on) || !t.creds.guest && want.equal(&h.own) {
		return
	}
	if err := setThreadCreds(h, want); err != nil {
		// Half-changed credentials would be worse than the host's.
		t.Log.Error("host thread cannot take the guest's credentials: file access is checked with elfuse's",
			"fsuid", want.fsuid, "fsgid", want.fsgid, "error", err)
		if err := setThreadCreds(h, &h.own); err != nil {
			t.Log.Error("host thread cannot take elfuse's credentials back", "error", err)
		}
		t.creds.guest = false
		return
	}
	t.creds.guest = !want.equal(&h.own)
	t.creds.on = *want
	t.creds.on.groups = slices.Clone(want.groups)
}

// dropCreds gives the task's thread elfuse's credentials back (Run's
// end: a thread outside Run carries them).
func (t *Task) dropCreds() {
	if t.creds.guest {
		h := theHostIdentity()
		t.carry(h, &h.own)
	}
	t.creds.seen, t.creds.run = 0, false
}

// withCreds runs fn with the task's thread carrying tc, then gives it the
// credentials it had.
// Preconditions: called on the task's own thread.
func (t *Task) withCreds(tc threadCreds, fn func() error) error {
	h := theHostIdentity()
	if !h.enabled || !t.creds.run {
		return fn()
	}
	prev := h.own
	if t.creds.guest {
		prev = t.creds.on
	}
	t.carry(h, &tc)
	defer t.carry(h, &prev)
	return fn()
}

// asHost runs fn, an access elfuse makes for itself (its private
// directories, another guestproc's descriptors), with elfuse's own
// credentials on the task's thread (t nil: on a thread with elfuse's).
// Preconditions: called on the task's own thread.
func (t *Task) asHost(fn func() error) error {
	if t == nil || !t.creds.guest {
		return fn()
	}
	return t.withCreds(theHostIdentity().own, fn)
}
