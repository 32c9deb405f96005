package kernel

// Per-process accounting of where a guest process spends its time, for
// performance work: how many times each syscall was served and for how long,
// how many vCPU runs (each ends in an exit), how long the vCPU ran (guest
// code plus the cost of leaving and re-entering the VM), and free-form
// counters other layers add (supervisor round trips, injected stub calls).
//
// It is off unless a guestproc turns it on (ELFUSE_SYSSTATS, see
// guestproc/sysstats.go); off, the run loop pays one atomic pointer load per
// exit.

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// SyscallStats accumulates the counts of one guest process. Safe for
// concurrent use by every thread of the process.
type SyscallStats struct {
	runs atomic.Uint64 // vCPU runs (exits)
	// cur is the syscall being served plus one (0: none), to attribute
	// extra counters; with several threads it is the latest one's.
	cur   atomic.Uint64
	runNs atomic.Uint64 // time inside hvf.VCPU.Run
	n     [maxDense]atomic.Uint64
	ns    [maxDense]atomic.Uint64

	mu    sync.Mutex
	extra map[string]*StatCounter
	slow  []SlowSyscall
}

// SlowSyscall is one syscall that took at least slowSyscall, for timelines.
type SlowSyscall struct {
	Name string `json:"name"`
	// Start is the wall-clock start in Unix nanoseconds.
	Start int64 `json:"start"`
	Ns    int64 `json:"ns"`
}

// slowSyscall is the duration from which a syscall is listed, and
// maxSlow the length of the list.
const (
	slowSyscall = time.Millisecond
	maxSlow     = 256
)

// StatCounter is a count and a total duration.
type StatCounter struct {
	N  uint64 `json:"n"`
	Ns uint64 `json:"ns"`
}

// stats is the accounting of this host process's guest process, or nil.
var stats atomic.Pointer[SyscallStats]

// StartSyscallStats starts accounting afresh and returns the new record. A
// recycled guestproc calls it once per process it runs.
func StartSyscallStats() *SyscallStats {
	s := &SyscallStats{extra: map[string]*StatCounter{}}
	stats.Store(s)
	return s
}

// StopSyscallStats stops accounting and returns the record (nil if none).
func StopSyscallStats() *SyscallStats { return stats.Swap(nil) }

// CountStat adds one event of kind taking d to the current record, if any,
// twice: as kind, and as kind@syscall for the syscall in progress (or
// kind@- outside syscalls: start-up, exit). For layers outside the
// kernel's dispatcher: supervisor round trips, injected stub calls.
func CountStat(kind string, d time.Duration) {
	s := stats.Load()
	if s == nil {
		return
	}
	in := "-"
	if nr := s.cur.Load(); nr != 0 {
		in = abi.SyscallName(nr - 1)
	}
	s.mu.Lock()
	s.count(kind, d)
	s.count(kind+"@"+in, d)
	s.mu.Unlock()
}

// count adds to counter kind.
//
// Preconditions: s.mu is held.
func (s *SyscallStats) count(kind string, d time.Duration) {
	c := s.extra[kind]
	if c == nil {
		c = &StatCounter{}
		s.extra[kind] = c
	}
	c.N++
	c.Ns += uint64(d)
}

// ran accounts one vCPU run that began at t0.
func (s *SyscallStats) ran(t0 time.Time) {
	s.runs.Add(1)
	s.runNs.Add(uint64(time.Since(t0)))
}

// syscall serves t's syscall as Task.Syscall does and accounts it.
func (s *SyscallStats) syscall(t *Task) {
	nr := t.CPU.Regs().RAX
	t0 := time.Now()
	s.cur.Store(nr + 1)
	t.Syscall()
	s.cur.Store(0)
	d := time.Since(t0)
	if nr < maxDense {
		s.n[nr].Add(1)
		s.ns[nr].Add(uint64(d))
	}
	if d >= slowSyscall {
		s.mu.Lock()
		if len(s.slow) < maxSlow {
			s.slow = append(s.slow, SlowSyscall{Name: abi.SyscallName(nr), Start: t0.UnixNano(), Ns: int64(d)})
		}
		s.mu.Unlock()
	}
}

// StatsReport is a snapshot of a SyscallStats.
type StatsReport struct {
	Runs     uint64                  `json:"runs"`
	RunNs    uint64                  `json:"run_ns"`
	Syscalls map[string]StatCounter  `json:"syscalls"`
	Extra    map[string]*StatCounter `json:"extra,omitempty"`
	// SyscallNs is the total time spent in syscall handlers.
	SyscallNs uint64 `json:"syscall_ns"`
	// SyscallN is the total number of syscalls served.
	SyscallN uint64 `json:"syscall_n"`
	// Slow are the syscalls that took 1 ms or more, in order.
	Slow []SlowSyscall `json:"slow,omitempty"`
}

// Report returns a snapshot of the counts.
func (s *SyscallStats) Report() StatsReport {
	r := StatsReport{Runs: s.runs.Load(), RunNs: s.runNs.Load(), Syscalls: map[string]StatCounter{},
		Extra: map[string]*StatCounter{}}
	for nr := range s.n {
		n := s.n[nr].Load()
		if n == 0 {
			continue
		}
		c := StatCounter{N: n, Ns: s.ns[nr].Load()}
		name := abi.SyscallName(uint64(nr))
		if name == "" {
			name = "nr" + strconv.Itoa(nr)
		}
		r.Syscalls[name] = c
		r.SyscallN += c.N
		r.SyscallNs += c.Ns
	}
	s.mu.Lock()
	for k, v := range s.extra {
		c := *v
		r.Extra[k] = &c
	}
	r.Slow = append([]SlowSyscall(nil), s.slow...)
	s.mu.Unlock()
	return r
}

// Top returns the syscall names of r by decreasing total time, at most n.
func (r StatsReport) Top(n int) []string {
	names := make([]string, 0, len(r.Syscalls))
	for k := range r.Syscalls {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return r.Syscalls[names[i]].Ns > r.Syscalls[names[j]].Ns })
	if len(names) > n {
		names = names[:n]
	}
	return names
}
