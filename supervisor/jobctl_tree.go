package supervisor

// Job control in the tree: SIGCONT sequence numbers and orphaned process
// groups. Stop and continue reports themselves are Tree.Stopped and
// Tree.Continued (tree.go).

import "github.com/elfuse/elfuse/kernel/abi"

// ContSent records that a SIGCONT is being sent to pid and returns its
// sequence number (from 1; 0 when pid is unknown). A stop the process
// asks for with an older sequence number was cancelled by it.
func (t *Tree) ContSent(pid int32) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		return 0
	}
	p.contSeq++
	return p.contSeq
}

// StopVerdict is Tree.MayStop's answer.
type StopVerdict int

// Stop verdicts.
const (
	StopNow       StopVerdict = iota // stop the process
	StopCancelled                    // a newer SIGCONT was sent
	StopOrphaned                     // SIGTSTP/TTIN/TTOU in an orphaned group: discarded
	StopGone                         // no such running process
)

// MayStop decides whether pid stops as the default action of sig, having
// taken in SIGCONTs up to sequence number seen. outsideOrphaned reports
// whether the host process group elfuse runs in is orphaned (asked only
// when the answer depends on it).
func (t *Tree) MayStop(pid, sig int32, seen uint64, outsideOrphaned func() bool) StopVerdict {
	t.mu.Lock()
	p := t.procs[pid]
	if p == nil || p.State == Zombie {
		t.mu.Unlock()
		return StopGone
	}
	if p.contSeq > seen {
		t.mu.Unlock()
		return StopCancelled
	}
	if sig == abi.SIGSTOP {
		t.mu.Unlock()
		return StopNow
	}
	orphaned, askHost := t.orphanedPgrpLocked(p.Pgid)
	t.mu.Unlock()
	if orphaned && (!askHost || outsideOrphaned()) {
		return StopOrphaned
	}
	return StopNow
}

// orphanedPgrpLocked reports whether process group pgid is orphaned in
// POSIX's sense, as far as the guest tree tells: no living member has a
// parent in another group of the same session. askHost is set when the
// answer also needs the host (the group is the one elfuse runs in, whose
// other host members may link it). Pid 1's parent is outside: it links
// pid 1's group when pid 1 is still in elfuse's session but left elfuse's
// group. Preconditions: t.mu held.
func (t *Tree) orphanedPgrpLocked(pgid int32) (orphaned, askHost bool) {
	for _, q := range t.procs {
		if q.Pgid != pgid || q.State == Zombie {
			continue
		}
		pp := t.procs[q.Ppid]
		if pp == nil {
			if q.Pid == 1 && q.Pgid != OutsideGroup && q.Sid == OutsideSession {
				return false, false
			}
			continue
		}
		if pp.Pgid != pgid && pp.Sid == q.Sid {
			return false, false
		}
	}
	return true, pgid == OutsideGroup
}

// ForegroundGroup checks tcsetpgrp(pgid) by caller as Linux does and
// returns the group to make the foreground: EINVAL for a negative id,
// ESRCH when no living process is in group pgid, EPERM when the group is
// in another session. 0 names the outside group for a caller in it (its
// getpgrp reads 0).
func (t *Tree) ForegroundGroup(caller, pgid int32) (int32, error) {
	if pgid < 0 {
		return 0, abi.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	me := t.procs[caller]
	if me == nil {
		return 0, abi.ESRCH
	}
	if pgid == 0 && me.Pgid == OutsideGroup {
		pgid = OutsideGroup
	}
	found := false
	for _, p := range t.procs {
		if p.Pgid != pgid || p.State == Zombie {
			continue
		}
		if p.Sid == me.Sid {
			return pgid, nil
		}
		found = true
	}
	if found {
		return 0, abi.EPERM
	}
	return 0, abi.ESRCH
}

// TTYVerdict is Tree.TTYAccess's answer.
type TTYVerdict int

// Terminal access verdicts.
const (
	TTYGoAhead TTYVerdict = iota // the access goes ahead
	TTYSignal                    // send sig to the caller's group; restart the access
	TTYFail                      // the access fails with EIO
)

// TTYAccess is Linux's __tty_check_change for pid's access to the
// terminal of guest session session, whose foreground group is fg: sig
// is SIGTTIN for a read, SIGTTOU for a write (with TOSTOP) or a change
// of the terminal's settings; ignored says pid blocks or ignores sig.
// A process outside the session (its terminal is not the controlling
// one) and a member of the foreground group go ahead; one that ignores
// sig fails a read and goes ahead otherwise; a member of an orphaned
// group fails; the rest get sig. outsideOrphaned is as for MayStop.
func (t *Tree) TTYAccess(pid, session, fg, sig int32, ignored bool, outsideOrphaned func() bool) (TTYVerdict, error) {
	t.mu.Lock()
	p := t.procs[pid]
	if p == nil || p.State == Zombie {
		t.mu.Unlock()
		return TTYGoAhead, abi.ESRCH
	}
	if p.Sid != session || p.Pgid == fg {
		t.mu.Unlock()
		return TTYGoAhead, nil
	}
	if ignored {
		t.mu.Unlock()
		if sig == abi.SIGTTIN {
			return TTYFail, nil
		}
		return TTYGoAhead, nil
	}
	orphaned, askHost := t.orphanedPgrpLocked(p.Pgid)
	t.mu.Unlock()
	if orphaned && (!askHost || outsideOrphaned()) {
		return TTYFail, nil
	}
	return TTYSignal, nil
}

// InSession reports whether pid is a live process of session.
func (t *Tree) InSession(pid, session int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	return p != nil && p.State != Zombie && p.Sid == session
}
