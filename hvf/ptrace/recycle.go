package ptrace

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Recycle makes the machine of a process that ended ready for the next
// process of the same guestproc (a recycled fork child), instead of
// killing the stub and starting another: every guest mapping goes (one
// munmap of [0, limit), or those around the page-table anchors of
// anchor.go), the stub's cached descriptors are closed and the vCPU is
// released. The stub does that on its own after Recycle returns;
// the machine's next operation waits for it (and reports its failure).
// Called on the tracing thread.
func (m *machine) Recycle() error { return m.recycle(nil, false) }

// RecycleKeeping is Recycle, except that the guest mappings of the files
// behind fds (elfuse's own, which no guest can reach: the RAM the
// guestproc keeps for its next process, the vDSO's data page) and of files
// mapped read-only stay in place for the next process, which claims those
// it maps again the same way and loses the others before it runs
// (layout.go).
func (m *machine) RecycleKeeping(fds []int) error { return m.recycle(fds, true) }

// recycle is Recycle, keeping what RecycleKeeping keeps if keep.
func (m *machine) recycle(fds []int, keep bool) error {
	if err := m.checkThread(); err != nil {
		return err
	}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return errors.New("ptrace: recycle a closed machine")
	}
	// Every guest mapping at once (the stub's own pages lie above limit),
	// and the stub's cached files (its descriptor 0 is the
	// descriptor-passing socket; every other one is a cached guest file),
	// in one batch that the stub runs while this process goes on: the
	// munmap of a process's memory is most of the cost (~1 ms here), and
	// the next process needs the stub only later. The next operation on
	// the machine waits for it and fails if it did. When keeping, the
	// batch unmaps only what is not kept, and there may be nothing to do:
	// the stub is made stopped here (a process that ended while a
	// notification was held, killed say, leaves it waiting for the
	// answer), as startBatch would.
	if err := m.sync(); err != nil {
		return fmt.Errorf("ptrace: recycle: %w", err)
	}
	var kept spans
	var ents []batchEntry
	planned, placed := false, false
	if keep {
		var keys []fileKey
		for _, fd := range fds {
			if k, _, err := fileKeyOf(fd); err == nil {
				keys = append(keys, k)
			}
		}
		kept, ents, planned = m.keepPlan(keys) // layout.go
	}
	if !planned {
		ents, placed = m.recycleEntries() // anchor.go: around the anchors
	}
	m.layout, m.stale = kept, len(kept) > 0
	if len(m.files.fds) > 0 {
		ents = append(ents, batchEntry{nr: unix.SYS_CLOSE_RANGE, args: [6]uint64{1, ^uint64(0) >> 32}})
	}
	if len(ents) > 0 {
		if err := m.startBatch(ents, "recycle: unmap the guest range and close the stub's files"); err != nil {
			return fmt.Errorf("ptrace: recycle: %w", err)
		}
	}
	// The batch places them or fails (then so does the machine's next
	// operation, which collects it).
	m.anchorsUp, m.anchorsLost = m.anchorsUp || placed, false
	m.files.fds = make(map[fileKey]int)
	m.files.order = m.files.order[:0]
	m.prefault = m.prefault[:0]
	m.log.Debug("stub recycled", "gadget_runs", m.gadgetRuns, "halts", m.halts, "kept", len(kept))
	m.gadgetRuns, m.halts = 0, 0
	m.nf.faulted = false // notify.go: the next process starts in notify mode
	m.nf.deferred, m.nf.lostOp = nil, nil
	m.vcpu = nil
	m.interruptPending = false
	m.mu.Lock()
	m.kickPending = false // a Kick meant for the process that ended
	m.mu.Unlock()
	m.hostStale = true
	return nil
}

// Drain waits until the stub has done what it runs on its own (a
// Recycle's unmapping of the guest range): once it returns, the ended
// process's mappings no longer hold their files.
func (m *machine) Drain() error {
	if err := m.checkThread(); err != nil {
		return err
	}
	return m.syncBatch()
}

// StubCPU returns the CPU time (user and system) the stub's threads have
// used so far, to the nanosecond: the stub's process CPU clock
// (CPUCLOCK_SCHED of its pid), which a parent may read.
func (m *machine) StubCPU() (time.Duration, error) {
	clk := ^int32(m.stubPid())<<3 | 2 // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	var ts unix.Timespec
	if err := unix.ClockGettime(clk, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// StubTimes returns the user and system CPU time the stub has used so far
// (guest code runs in it): a recycled stub is not reaped at the end of each
// process, so its time does not reach RUSAGE_CHILDREN and must be accounted
// for by difference. The total is the stub's process CPU clock, to the
// nanosecond; it is split as the kernel's samples of user and system time
// at its ticks split (as getrusage splits it, cputime_adjust), all of it
// user time while no tick fell in the stub. /proc/PID/stat, read before,
// gave 10 ms ticks, and regenerating it cost ~10 µs of every exit.
func (m *machine) StubTimes() (user, sys time.Duration, err error) {
	r := m.root()
	// Close marks the machine closed, under mu, before it reaps the
	// stub, and a stub reaped on its own is marked exited: until then
	// the pid is still the stub's.
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.exited.Load() {
		return 0, 0, errors.New("ptrace: CPU times of a closed machine's stub")
	}
	var clk [3]time.Duration // PROF (user+system), VIRT (user), SCHED: by id
	for i := range clk {
		var ts unix.Timespec
		if err := unix.ClockGettime(^int32(r.pid)<<3|int32(i), &ts); err != nil {
			return 0, 0, fmt.Errorf("ptrace: CPU clock %d of stub %d: %w", i, r.pid, err)
		}
		clk[i] = time.Duration(ts.Nano())
	}
	user, sys = splitCPU(clk[2], clk[1], clk[0]-clk[1])
	return user, sys, nil
}

// splitCPU splits total CPU time as the sampled user and system times
// split, with the precision of float64 (ample for a process's seconds).
func splitCPU(total, user, sys time.Duration) (time.Duration, time.Duration) {
	if sys <= 0 {
		return total, 0
	}
	if user <= 0 {
		return 0, total
	}
	s := time.Duration(float64(total) * float64(sys) / float64(user+sys))
	return total - s, s
}

// procFileLocked returns the stub's /proc/PID/name, opened into *slot on
// first use and kept (Close closes it). m.mu held.
func (m *machine) procFileLocked(slot **os.File, name string) (*os.File, error) {
	if m.closed {
		return nil, errors.New("ptrace: /proc/PID/" + name + " of a closed machine")
	}
	if *slot == nil {
		f, err := os.Open("/proc/" + strconv.Itoa(m.pid) + "/" + name)
		if err != nil {
			return nil, err
		}
		*slot = f
	}
	return *slot, nil
}
