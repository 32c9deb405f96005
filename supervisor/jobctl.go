package supervisor

// Job control: stopping and continuing guestprocs. A guest process stops
// in one way whatever stopped it: the supervisor host-SIGSTOPs its
// guestproc (a KVM vCPU thread stops with it; under ptrace the stub waits
// at its next exit, as the guestproc serves no exit) and records the stop
// in the tree, which reports it to the parent's wait and SIGCHLD. SIGSTOP
// from another guest process is applied here directly; SIGTSTP, SIGTTIN,
// SIGTTOU and a process's SIGSTOP to itself reach the guest's signal
// delivery, whose default action asks for the stop (ipc.OpStop). SIGCONT
// host-continues the guestproc and is then delivered to the guest, which
// may catch it.
//
// The reply to an OpStop is held back until the process is continued and
// sent after the SIGCONT message: the guest's stop ends only then, with
// the SIGCONT already queued, so a SIGCONT handler runs first thing (as
// on Linux) and a host SIGCONT that did not come through the supervisor
// (elfuse's job continued by a shell) does not run the guest on its own.
//
// SIGCONTs are numbered per process so that a stop racing with a later
// SIGCONT is cancelled rather than left standing: the guest's kernel
// records the newest number it took in, and an OpStop carrying an older
// one than the tree's is refused. job.mu orders the tree's decisions with
// the host signals, so a continue can never overtake the stop it cancels.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// jobControl is the supervisor's job-control state.
type jobControl struct {
	// mu serializes stop decisions with host SIGSTOP/SIGCONT and guards
	// held.
	mu sync.Mutex
	// held are the OpStop requests of stopped guestprocs, by request ID,
	// answered when they are continued.
	held map[*guestproc]uint64
	// relay passes host signals on (jobctl_signals.go).
	relay *relay
	// fg is the guest foreground group set by tcsetpgrp (0: the
	// host-facing group).
	fg int32
	// detached: the terminal's session leader gave it up (TIOCNOTTY);
	// it is no guest process's controlling terminal any more.
	detached atomic.Bool
	// ptys are the terminals guest sessions took (jobctl_pty.go).
	ptys guestTTYs
}

// stopRequest handles ipc.OpStop from g. It reports true when g stopped:
// the reply (Self set) is then held until g is continued. On false the
// caller replies at once (Self clear: no stop).
func (s *supervisor) stopRequest(g *guestproc, req *ipc.Request) bool {
	sig := req.Sig
	if sig != abi.SIGSTOP && sig != abi.SIGTSTP && sig != abi.SIGTTIN && sig != abi.SIGTTOU {
		return false
	}
	s.job.mu.Lock()
	v := s.tree.MayStop(g.pid, sig, req.Seq, hostGroupOrphaned)
	if v != StopNow || req.ID == 0 {
		s.job.mu.Unlock()
		s.dropSnapshot(g.pid) // the one it sent ahead (procfs_snapshot.go)
		s.log.Debug("stop refused", "pid", g.pid, "sig", sig, "verdict", v)
		return false
	}
	if s.job.held == nil {
		s.job.held = map[*guestproc]uint64{}
	}
	s.job.held[g] = req.ID
	s.stopLocked(g, sig)
	s.job.mu.Unlock()
	s.stopCLI(g.pid, sig)
	return true
}

// stopLocked stops g's host process and reports the stop.
// Preconditions: s.job.mu held.
func (s *supervisor) stopLocked(g *guestproc, sig int32) {
	if g.signalHost(syscall.SIGSTOP) { // not once it ended or was recycled
		s.deliver(s.tree.Stopped(g.pid, sig))
	}
}

// continueLocked delivers SIGCONT (req: its sender and siginfo) to g:
// the guest gets it, a held stop reply is released, the host process
// continues and the parent hears of it. Preconditions: s.job.mu held.
func (s *supervisor) continueLocked(g *guestproc, req *ipc.Request) {
	seq := s.tree.ContSent(g.pid)
	s.dropSnapshot(g.pid)
	// Recorded first: once running, the process may end before a report
	// made afterwards, and the parent would never see it continue.
	notes := s.tree.Continued(g.pid)
	if err := g.send(ipc.MsgSignal, ipc.Signal{Sig: abi.SIGCONT, Info: req.Info, Thread: req.Thread, Seq: seq}); err != nil {
		s.log.Trace("SIGCONT not delivered", "pid", g.pid, "error", err)
	}
	if id, ok := s.job.held[g]; ok {
		delete(s.job.held, g)
		if err := g.send(ipc.MsgReply, ipc.Reply{ID: id, Self: true}); err != nil {
			s.log.Trace("stop reply not delivered", "pid", g.pid, "error", err)
		}
	}
	g.signalHost(syscall.SIGCONT)
	s.deliver(notes)
}

// hostStop applies SIGSTOP from another process to pid.
func (s *supervisor) hostStop(g *guestproc) {
	// Its /proc while stopped, rendered first: a stopped guestproc
	// cannot (procfs_snapshot.go).
	s.askSnapshot(g)
	s.job.mu.Lock()
	s.stopLocked(g, abi.SIGSTOP)
	s.job.mu.Unlock()
	s.stopCLI(g.pid, abi.SIGSTOP)
}

// hostContinue applies SIGCONT from another process (req) to g.
func (s *supervisor) hostContinue(g *guestproc, req *ipc.Request) {
	s.job.mu.Lock()
	defer s.job.mu.Unlock()
	s.continueLocked(g, req)
}

// stopCLI stops elfuse itself when pid 1 stopped: the shell that ran
// elfuse then sees its job stop, as it would see the program stop run
// natively. The host SIGCONT that resumes elfuse (fg, bg) continues
// pid 1's group (continueFromHost).
func (s *supervisor) stopCLI(pid, sig int32) {
	if pid != 1 {
		return
	}
	s.log.Debug("pid 1 stopped: stopping elfuse", "sig", sig)
	s.job.relay.raiseDefault(syscall.Signal(sig))
}

// continueFromHost passes a host SIGCONT elfuse received on to the guest
// processes of the host-facing group, the one a shell continues with
// elfuse's job: they continue and get SIGCONT.
func (s *supervisor) continueFromHost() {
	pg := hostFacingGroup()
	info := abi.Siginfo{Signo: abi.SIGCONT, Code: abi.SI_USER}
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	// One by one: group 1 cannot be named as kill(-1, ...).
	var others []int32
	for _, p := range s.tree.Snapshot() {
		if p.State == Zombie {
			continue
		}
		if p.Pgid != pg {
			if p.State == Stopped {
				others = append(others, p.Pid)
			}
			continue
		}
		if _, err := s.kill(0, &ipc.Request{Pid: p.Pid, Sig: abi.SIGCONT, Info: b}); err != nil {
			s.log.Debug("continue from host", "pid", p.Pid, "error", err)
		}
	}
	s.restop(others)
}

// restop stops again the guestprocs of stopped guest processes outside
// the host-facing group: they share elfuse's host group, so the host
// SIGCONT that continued elfuse's job continued them too, though no
// SIGCONT was meant for them. (One stopped by its own stop signal waits
// for its held reply anyway; one stopped by SIGSTOP from another process
// would run.)
func (s *supervisor) restop(pids []int32) {
	s.job.mu.Lock()
	defer s.job.mu.Unlock()
	for _, pid := range pids {
		s.mu.Lock()
		g := s.gps[pid]
		s.mu.Unlock()
		if p, ok := s.tree.Get(pid); ok && g != nil && p.State == Stopped {
			g.signalHost(syscall.SIGSTOP)
		}
	}
}

// hostGroupOrphaned reports whether elfuse's host process group is
// orphaned: none of its members has a parent in another group of the
// same session (the parent being host pid 1 does not count, as in
// Linux's will_become_orphaned_pgrp). It scans /proc; errors count as
// not orphaned, the answer that keeps stop signals working.
func hostGroupOrphaned() bool {
	pgrp := unix.Getpgrp()
	sid, err := unix.Getsid(0)
	if err != nil {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.pgrp != pgrp {
			continue
		}
		if st.ppid <= 1 {
			continue
		}
		pst, ok := readStat(st.ppid)
		if !ok {
			continue
		}
		if pst.pgrp != pgrp && pst.sid == sid {
			return false
		}
	}
	return true
}

// procStat is the part of /proc/PID/stat job control needs.
type procStat struct{ ppid, pgrp, sid int }

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b[i+1:]))
	sc.Split(bufio.ScanWords)
	var f []string
	for sc.Scan() && len(f) < 4 {
		f = append(f, sc.Text())
	}
	if len(f) < 4 {
		return procStat{}, false
	}
	var st procStat
	var errs [3]error
	st.ppid, errs[0] = strconv.Atoi(f[1])
	st.pgrp, errs[1] = strconv.Atoi(f[2])
	st.sid, errs[2] = strconv.Atoi(strings.TrimSpace(f[3]))
	for _, e := range errs {
		if e != nil {
			return procStat{}, false
		}
	}
	return st, true
}

// hostFacingGroup is the guest process group that stands for elfuse's
// own host group: pid 1's group when elfuse leads its group (pid 1 then
// starts as a leader), else the outside group.
func hostFacingGroup() int32 {
	if l := hostLeads(); l.Group || l.Session {
		return 1
	}
	return OutsideGroup
}

// inHostGroup reports whether host signal sig, which reached pid's
// guestproc through elfuse's host group, is for pid: a terminal's signal
// when pid is in the guest's foreground group, another when pid is in the
// host-facing group.
func (s *supervisor) inHostGroup(pid, sig int32) bool {
	p, ok := s.tree.Get(pid)
	if !ok {
		return false
	}
	if terminalSignals[syscall.Signal(sig)] {
		return p.Pgid == s.foreground()
	}
	return p.Pgid == hostFacingGroup()
}

// foreground is the guest process group in the terminal's foreground
// while elfuse's host group is: the host-facing group until a guest
// process sets another (tcsetpgrp).
func (s *supervisor) foreground() int32 {
	s.job.mu.Lock()
	defer s.job.mu.Unlock()
	if s.job.fg == 0 {
		return hostFacingGroup()
	}
	return s.job.fg
}

// tcgetpgrp answers ipc.OpTcgetpgrp: the guest's foreground group as
// getpgid reports groups, or 0 when elfuse's host group is not in the
// terminal's foreground (a group outside the namespace, as Linux reports
// it to a process inside a PID namespace); ENOTTY when the terminal is
// not caller's controlling terminal.
func (s *supervisor) tcgetpgrp(caller int32) (int32, error) {
	if err := s.ownsTerminal(caller); err != nil {
		return 0, err
	}
	if r := s.job.relay; r != nil && r.tty != nil && !r.inForeground() {
		return 0, nil
	}
	return visible(s.foreground()), nil
}

// tcsetpgrp answers ipc.OpTcsetpgrp from caller with Linux's checks: the
// group must exist (ESRCH) in the caller's session (EPERM). The host
// terminal's foreground stays elfuse's group, which every guestproc is
// in; guestprocs pass a terminal signal on only to the guest foreground.
func (s *supervisor) tcsetpgrp(caller, pgid int32) error {
	if err := s.ownsTerminal(caller); err != nil {
		return err
	}
	pgid, err := s.tree.ForegroundGroup(caller, pgid)
	if err != nil {
		return err
	}
	s.job.mu.Lock()
	s.job.fg = pgid
	s.job.mu.Unlock()
	return nil
}
