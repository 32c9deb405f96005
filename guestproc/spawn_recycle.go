package guestproc

// Recycling: a fork child's guestproc whose process ended offers itself to
// the supervisor as the next warm spare instead of exiting, keeping its Go
// runtime and (on the ptrace backend) its stub. A fork loop then starts no
// host process at all once a spare or two exist; before, every fork paid a
// guestproc start (exec, Go runtime init) and a stub start in the
// background, which on a small host competed with the fork itself.
//
// Protocol (see package ipc): the guestproc sends Exited with Reusable set
// once it has released everything of the process; the supervisor either
// keeps it as a spare (a later Start with Fork set and the fork socket
// attached assigns it, read here by the old life's reader goroutine) or
// closes the control socket (the guestproc exits).

import (
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// assignment is a Start received by a recycled guestproc's reader.
type assignment struct {
	start ipc.Start
	fds   []int
}

// assignments carries the next Start from the reader goroutine (serve) of
// the life that ended to Main. One guestproc has one control socket, so
// this is process-wide.
var assignments = make(chan assignment, 1)

// handOff passes a Start received by serve to Main and reports whether
// serve must stop reading: from then on the socket is the next life's.
func (h *host) handOff(raw ipc.Raw, fds []int) bool {
	var s ipc.Start
	if err := decode(raw, &s); err != nil || !s.Fork || len(fds) != 1 {
		h.log.Warn("unexpected Start on a running guestproc's control socket")
		closeFDs(fds)
		return false
	}
	assignments <- assignment{start: s, fds: fds}
	return true
}

// awaitAssignment waits for the next life of a recycled guestproc; false
// when the supervisor closed the socket (it did not keep this spare).
func awaitAssignment(h *host) (assignment, bool) {
	select {
	case a := <-assignments:
		return a, true
	case <-h.dead:
		// serve also ends (closing dead) right after a hand-off.
		select {
		case a := <-assignments:
			return a, true
		default:
			return assignment{}, false
		}
	}
}

// releaseVforkParent closes the vfork notify pipe, if the process still
// holds it (it ended without exec): the parent waits for its closing.
func (h *host) releaseVforkParent() {
	h.mu.Lock()
	fd := h.vforkNotify
	h.vforkNotify = -1
	h.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
}

// stubTimer reports the CPU time of the host process guest code runs in
// when that is not this process (the ptrace stub).
type stubTimer interface {
	StubTimes() (user, sys time.Duration, err error)
	StubCPU() (time.Duration, error)
}

// lifeClock is the host CPU time a guestproc had used when a life began,
// so that a recycled guestproc reports only the current process's usage.
type lifeClock struct {
	self, children unix.Rusage
	stubUser       time.Duration
	stubSys        time.Duration
	// ownCPU and stubCPU are the guestproc's and the kept stub's CPU
	// clocks when the life began (cpuSince).
	ownCPU, stubCPU time.Duration
}

func startLifeClock(machine hvf.Machine) lifeClock {
	var c lifeClock
	unix.Getrusage(unix.RUSAGE_SELF, &c.self)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &c.children)
	c.ownCPU = processCPU()
	if st, ok := machine.(stubTimer); ok {
		c.stubUser, c.stubSys, _ = st.StubTimes()
		c.stubCPU, _ = st.StubCPU()
	}
	return c
}

// processCPU reads this guestproc's process CPU clock (0 on failure).
func processCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// selfUsage is the running process's own user and system time for a life
// that began at c on machine (kernel/cpu_usage.go): this guestproc's since
// then, the stubs it reaped since, and the running stub's share.
func (c lifeClock) selfUsage(machine hvf.Machine) (user, sys time.Duration) {
	var r, hc unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &hc)
	ut := tvus(r.Utime) - tvus(c.self.Utime) + tvus(hc.Utime) - tvus(c.children.Utime)
	st := tvus(r.Stime) - tvus(c.self.Stime) + tvus(hc.Stime) - tvus(c.children.Stime)
	su, ss := c.stubUsage(machine)
	return time.Duration(ut)*time.Microsecond + su, time.Duration(st)*time.Microsecond + ss
}

// cpuSince is selfUsage's sum with the clocks' precision.
func (c lifeClock) cpuSince(machine hvf.Machine) time.Duration {
	var hc unix.Rusage
	unix.Getrusage(unix.RUSAGE_CHILDREN, &hc)
	d := processCPU() - c.ownCPU
	d += time.Duration(tvus(hc.Utime)-tvus(c.children.Utime)+tvus(hc.Stime)-tvus(c.children.Stime)) * time.Microsecond
	if st, ok := machine.(stubTimer); ok {
		if v, err := st.StubCPU(); err == nil {
			d += max(v-c.stubCPU, 0)
		}
	}
	return max(d, 0)
}

// stubUsage is the stub's CPU time since the life began, for a Machine
// kept alive across lives (a closed one was reaped into RUSAGE_CHILDREN).
func (c lifeClock) stubUsage(machine hvf.Machine) (user, sys time.Duration) {
	st, ok := machine.(stubTimer)
	if !ok {
		return 0, 0
	}
	u, s, err := st.StubTimes()
	if err != nil {
		return 0, 0
	}
	return max(u-c.stubUser, 0), max(s-c.stubSys, 0)
}

func tvus(tv unix.Timeval) int64 { return tv.Sec*1e6 + tv.Usec }

// usageSince is usage for a life that began at c: this guestproc's host
// usage since then (its own, its reaped host children's, and the kept
// stub's) plus that of the guest children it waited for.
func usageSince(p *kernel.Process, c lifeClock, kept hvf.Machine) abi.Rusage {
	var r, hc unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &hc)
	ut := tvus(r.Utime) - tvus(c.self.Utime) + tvus(hc.Utime) - tvus(c.children.Utime)
	st := tvus(r.Stime) - tvus(c.self.Stime) + tvus(hc.Stime) - tvus(c.children.Stime)
	if kept != nil {
		su, ss := c.stubUsage(kept)
		ut += su.Microseconds()
		st += ss.Microseconds()
	}
	g := p.ChildUsage()
	ut += g.Utime.Sec*1e6 + g.Utime.Usec
	st += g.Stime.Sec*1e6 + g.Stime.Usec
	return abi.Rusage{
		Utime:   abi.Timeval{Sec: ut / 1e6, Usec: ut % 1e6},
		Stime:   abi.Timeval{Sec: st / 1e6, Usec: st % 1e6},
		Maxrss:  max(r.Maxrss, hc.Maxrss, g.Maxrss),
		Minflt:  r.Minflt - c.self.Minflt + hc.Minflt - c.children.Minflt + g.Minflt,
		Majflt:  r.Majflt - c.self.Majflt + hc.Majflt - c.children.Majflt + g.Majflt,
		Inblock: r.Inblock - c.self.Inblock + hc.Inblock - c.children.Inblock + g.Inblock,
		Oublock: r.Oublock - c.self.Oublock + hc.Oublock - c.children.Oublock + g.Oublock,
		Nvcsw:   r.Nvcsw - c.self.Nvcsw + hc.Nvcsw - c.children.Nvcsw + g.Nvcsw,
		Nivcsw:  r.Nivcsw - c.self.Nivcsw + hc.Nivcsw - c.children.Nivcsw + g.Nivcsw,
	}
}

// hostThreadState is what a guest may change on the guestproc's own vCPU
// thread (sched_setaffinity acts on the host thread) and a recycled
// guestproc puts back before its next process. The credentials the thread
// carries for the guest are not in it: Task.Run gives elfuse's back when
// it returns (kernel/creds_thread.go).
type hostThreadState struct {
	cpus unix.CPUSet
	ok   bool
}

func saveHostThreadState() hostThreadState {
	var s hostThreadState
	s.ok = unix.SchedGetaffinity(0, &s.cpus) == nil
	return s
}

func (s hostThreadState) restore() {
	if s.ok {
		unix.SchedSetaffinity(0, &s.cpus)
	}
}
