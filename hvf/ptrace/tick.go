package ptrace

// The tracer waits for a guest run without telling the Go scheduler.
//
// A guest run ends with the stub's next stop, which the tracing thread
// waits for in wait4. Made as a Go system call (entersyscall), a wait of
// more than 10 ms, a compiler computing, has sysmon take the thread's P
// away, which resets sysmon to its shortest sleep: 50 rounds of ~20 µs
// nanosleeps, each a context switch, after every long run (about 60
// nanosleeps; cc1's long runs alone made thousands per make -j2).
//
// Made as a raw system call the wait keeps its P, so sysmon has nothing to
// take. The price is that the goroutine cannot stop for the runtime (a
// stop-the-world, the collector's scan of its stack) until the wait
// returns: the runtime's preemption signal only restarts it. So the stub
// keeps a timer on its own CPU clock that sends it tickSignal every
// tickPeriod of guest computation: the stop ends the wait, the tracer
// passes a preemption point and resumes the guest without the signal.
// The raw wait is used only when that timer runs and the stub has a
// single thread: several tracers each holding a P could leave none for
// the guestproc's other goroutines.

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// tickSignal is the signal of the stub's CPU-clock timer. The guest
	// never sees it: its own signals are the kernel's, not the host's.
	tickSignal = unix.SIGPROF
	// tickPeriod bounds how long the tracer's raw wait can keep the Go
	// runtime waiting while the guest computes; each tick costs one stop
	// (~30 µs here), 0.3% of a computing guest.
	tickPeriod = 10 * time.Millisecond

	// Scratch layout (files.go has the rest of it).
	scratchSigevent  = scratchAddr + 0x300 // struct sigevent (64 bytes)
	scratchTimerID   = outAddr + 0x500     // timer_t the kernel writes
	scratchTimerSpec = scratchAddr + 0x360 // struct itimerspec (32 bytes)
)

// startTick arms the stub thread's CPU-clock timer (timer_create with
// CLOCK_THREAD_CPUTIME_ID, delivered to this thread by SIGEV_THREAD_ID).
// Without it (an error, a host that refuses) the tracer waits with Go
// system calls as before. Called on the tracing thread at setup.
func (m *machine) startTick() {
	var ev [64]byte
	binary.LittleEndian.PutUint32(ev[8:], uint32(tickSignal))
	binary.LittleEndian.PutUint32(ev[12:], 4) // SIGEV_THREAD_ID
	binary.LittleEndian.PutUint32(ev[16:], uint32(m.pid))
	var spec [32]byte
	ns := uint64(tickPeriod.Nanoseconds())
	binary.LittleEndian.PutUint64(spec[0:], ns/1e9) // it_interval
	binary.LittleEndian.PutUint64(spec[8:], ns%1e9)
	binary.LittleEndian.PutUint64(spec[16:], ns/1e9) // it_value
	binary.LittleEndian.PutUint64(spec[24:], ns%1e9)
	if err := m.writeStub(scratchSigevent, ev[:]); err != nil {
		m.log.Debug("no tick timer", "error", err)
		return
	}
	if err := m.writeStub(scratchTimerSpec, spec[:]); err != nil {
		m.log.Debug("no tick timer", "error", err)
		return
	}
	if _, err := m.inject(unix.SYS_TIMER_CREATE, unix.CLOCK_THREAD_CPUTIME_ID, scratchSigevent, scratchTimerID); err != nil {
		m.log.Debug("no tick timer", "error", err)
		return
	}
	var id [4]byte
	if err := m.readStub(scratchTimerID, id[:]); err != nil {
		m.log.Debug("no tick timer", "error", err)
		return
	}
	if _, err := m.inject(unix.SYS_TIMER_SETTIME, uint64(binary.LittleEndian.Uint32(id[:])), 0, scratchTimerSpec, 0); err != nil {
		m.log.Debug("no tick timer", "error", err)
		return
	}
	m.ticking = true
}

// isTick says whether a stop is the tick's signal-delivery stop.
func isTick(ws unix.WaitStatus) bool {
	return ws.Stopped() && ws.StopSignal() == tickSignal
}

// waitRun waits for the stub's stop that ends a guest run: raw when the
// tick bounds it (see above), else as wait.
func (m *machine) waitRun() (unix.WaitStatus, error) {
	if spinOn { // spin.go
		var ws unix.WaitStatus
		if got, err := spinWait4NoHang(m.pid, &ws); err == nil && got {
			ws, _, err := m.checkStatus(ws)
			return ws, err
		}
	}
	if !m.ticking || m.threads.n.Load() != 0 {
		return m.wait()
	}
	return m.waitWith(rawWait4)
}
