package guestproc

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/elfuse/elfuse/kernel"
	"github.com/hashicorp/go-hclog"
)

// StatsEnv names the environment variable that makes every guestproc
// account its guest process (kernel/sys_stats.go) and write the figures,
// one JSON object, to "$ELFUSE_SYSSTATS.<host pid>.<life>" when the process
// ends: per syscall name the count and the time in its handler, the vCPU
// runs and the time inside them, counters other layers add, and the phases
// of the process's life in this guestproc (start: from being assigned to the
// first guest instruction; run: the run loop; end: release and exit report).
// The summary is also logged at debug level. Off, the run loop pays one
// atomic load per exit.
//
//	ELFUSE_SYSSTATS=/tmp/st elfuse --backend=ptrace PROG
//	go run ./bench/sysstats /tmp/st.*
const StatsEnv = "ELFUSE_SYSSTATS"

// lifeStats is the accounting of one life, or nil when off.
type lifeStats struct {
	base   string
	life   int
	t0     time.Time
	tRun   time.Time
	tEnd   time.Time
	record *kernel.SyscallStats
}

// StatsFile is what a guestproc writes for one process (read by
// bench/sysstats).
type StatsFile struct {
	Pid     int32  `json:"pid"`
	HostPid int    `json:"host_pid"`
	Life    int    `json:"life"`
	Fork    bool   `json:"fork"`
	Comm    string `json:"comm"`
	Status  uint32 `json:"status"`
	StartNs int64  `json:"start_ns"`
	RunNs   int64  `json:"run_loop_ns"`
	EndNs   int64  `json:"end_ns"`
	// T0, TRun and TEnd are the wall-clock times (Unix ns) of the life's
	// start, its run loop's start and end, for timelines.
	T0    int64              `json:"t0"`
	TRun  int64              `json:"t_run"`
	TEnd  int64              `json:"t_end"`
	Stats kernel.StatsReport `json:"stats"`
}

// statsLives counts the lives accounted in this guestproc (one at a time,
// on Main's thread).
var statsLives int

// startStats starts accounting for the life about to run when StatsEnv is
// set.
func startStats() *lifeStats {
	base := os.Getenv(StatsEnv)
	if base == "" {
		return nil
	}
	statsLives++
	return &lifeStats{base: base, life: statsLives - 1, t0: time.Now(), record: kernel.StartSyscallStats()}
}

// running marks the start of the run loop.
func (s *lifeStats) running() {
	if s != nil {
		s.tRun = time.Now()
	}
}

// ran marks the end of the run loop.
func (s *lifeStats) ran() {
	if s != nil {
		s.tEnd = time.Now()
	}
}

// finish stops accounting and writes the figures.
func (s *lifeStats) finish(p *kernel.Process, pid int32, fork bool, status uint32, log hclog.Logger) {
	if s == nil {
		return
	}
	kernel.StopSyscallStats()
	f := StatsFile{Pid: pid, HostPid: os.Getpid(), Life: s.life, Fork: fork, Status: status,
		StartNs: int64(s.tRun.Sub(s.t0)), RunNs: int64(s.tEnd.Sub(s.tRun)), EndNs: int64(time.Since(s.tEnd)),
		Stats: s.record.Report(), T0: s.t0.UnixNano(), TRun: s.tRun.UnixNano(), TEnd: s.tEnd.UnixNano()}
	if p != nil {
		f.Comm = p.Comm()
	}
	if log.IsDebug() {
		log.Debug("syscall accounting", "comm", f.Comm, "syscalls", f.Stats.SyscallN,
			"in_handlers", time.Duration(f.Stats.SyscallNs), "runs", f.Stats.Runs,
			"in_vcpu", time.Duration(f.Stats.RunNs), "top", f.Stats.Top(5))
	}
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	path := fmt.Sprintf("%s.%d.%d", s.base, os.Getpid(), s.life)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		log.Warn("syscall accounting", "error", err)
	}
}
