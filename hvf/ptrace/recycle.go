package ptrace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
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
// (guest code runs in it), from /proc/PID/stat: a recycled stub is not
// reaped at the end of each process, so its time does not reach
// RUSAGE_CHILDREN and must be accounted for by difference.
func (m *machine) StubTimes() (user, sys time.Duration, err error) {
	b, err := m.root().readStat()
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'. utime and stime are fields 14 and 15, in clock ticks.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("ptrace: bad stat line of stub %d", m.pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("ptrace: short stat line of stub %d", m.pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("ptrace: bad stat times of stub %d", m.pid)
	}
	// USER_HZ is 100 on every x86-64 Linux.
	const tick = 10 * time.Millisecond
	return time.Duration(ut) * tick, time.Duration(st) * tick, nil
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

// readStat reads the stub's /proc/PID/stat. The file stays open (Close
// closes it): a pread regenerates it and costs a tenth of an open, read
// and close of procfs here (~10 against ~90 us).
func (m *machine) readStat() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.procFileLocked(&m.statFile, "stat")
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1024)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}
