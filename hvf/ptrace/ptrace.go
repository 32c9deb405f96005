// Package ptrace is a software hvf backend for hosts without a usable
// /dev/kvm, in the spirit of gVisor's ptrace platform.
//
// Each Machine is a stub host process: a tiny static ELF generated at run
// time (see stub.go) whose own code and data sit above every guest address.
// The guest's memory is the caller's descriptors mapped MAP_SHARED into the
// stub at the guest addresses, so guest virtual address A is the same byte in
// the caller's mappings of the same descriptor. Guest code runs natively in the
// stub under PTRACE_SYSEMU: every SYSCALL stops the stub before the host kernel
// executes it and becomes an ExitSyscall; a fault becomes a signal-delivery
// stop that is turned into an ExitException and suppressed (the stub never
// handles a host signal). Where EnableNotify was called, a single-threaded
// stub instead runs under PTRACE_CONT with a seccomp filter that turns its
// syscalls into notifications on a listener (notify.go), about twice as
// fast a round trip.
//
// Threads. ptrace requests are only accepted from the tracing thread, so a
// Machine belongs to the OS thread that created it: NewMachine must be called
// from a goroutine locked with runtime.LockOSThread, and Map, Protect, Unmap,
// NewVCPU and every VCPU method except Kick must be called from that same
// goroutine; they return an error otherwise (Run learns it from the ESRCH of
// its first ptrace request rather than paying a gettid per exit). Kick and
// Machine.Close may be called from any goroutine. If the tracing thread exits,
// the stub is killed (PR_SET_PDEATHSIG and PTRACE_O_EXITKILL). Every stop of
// the stub sends SIGCHLD to this process, as ptrace does; nothing here needs
// it (the guestproc ignores it), but a signal.Notify(SIGCHLD) elsewhere in
// the process will see them.
//
// Memory operations are syscalls injected into the stopped stub: the tracer
// saves the registers, points RIP at a `syscall; int3` gadget in the stub
// image, continues to the int3 and reads RAX. A burst of them (Apply, the
// hvf.Batcher method: a fork child's address space, an exec) is one table
// the stub's batch gadget runs in a single continue (batch.go, apply.go).
// A descriptor reaches the stub by an openat of /proc/<tracer pid>/fd/<fd>
// in the batch of the mmap that needs it, or, when that reopen is refused,
// over a socketpair with SCM_RIGHTS (files.go); the stub-side descriptor is
// cached per (device, inode, access mode) in a small LRU.
//
// Differences from the KVM backend a caller may notice:
//   - addresses at or above AddrLimit hold the stub's two pages (at stubBase)
//     and the host's vsyscall page; the stub's stack and vDSO are unmapped;
//   - page-fault error codes are rebuilt from siginfo: the write bit is a
//     guess (see pfErrorCode);
//   - a SIGBUS (access beyond the end of a mapped file) is reported as a #PF
//     on a present page;
//   - a call into the host's vsyscall page (0xffffffffff600000) is emulated
//     by the host kernel without a syscall exit, as on a native host;
//   - FS/GS bases must be user addresses (below 0x7ffffffff000, Linux's
//     TASK_SIZE_MAX): Run fails to load anything else, so arch_prctl must
//     refuse such bases with EPERM as Linux does.
package ptrace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/hvf/wp"
)

// defaultAddrLimit is used when Config.AddrLimit is zero.
const defaultAddrLimit = 1 << 46

type backend struct {
	log hclog.Logger

	// mu guards spare, the stub New started, until a NewMachine takes or
	// discards it.
	mu    sync.Mutex
	spare *machine
	// watch, when set (WatchStubs), is told of every stub started.
	watch func(pidfd int)
}

// New returns the ptrace backend. It checks that this host lets the process
// start and trace a stub (ptrace may be forbidden by seccomp or an LSM); the
// error wraps hvf.ErrUnavailable with the reason when it does not.
//
// The stub started by that check is kept: the first NewMachine called on the
// same OS thread (a guestproc calls both from its locked main thread) takes
// it instead of starting another, which halves the backend's share of
// process start-up. Called on another thread, NewMachine discards it.
func New(log hclog.Logger) (hvf.Backend, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("ptrace")
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("ptrace backend needs linux/amd64, not %s/%s: %w",
			runtime.GOOS, runtime.GOARCH, hvf.ErrUnavailable)
	}
	if _, err := stubFD(); err != nil {
		return nil, fmt.Errorf("ptrace stub image: %v: %w", err, hvf.ErrUnavailable)
	}
	spare, err := probe(log)
	if err != nil {
		return nil, fmt.Errorf("ptrace stub cannot run: %v: %w", err, hvf.ErrUnavailable)
	}
	return &backend{log: log, spare: spare}, nil
}

// probe starts one stub traced by the calling thread and returns it. The
// thread stays locked for the few ptrace requests of the start (a no-op
// nesting when the caller is locked already, as LockOSThread counts).
func probe(log hclog.Logger) (*machine, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return startMachine(log, defaultAddrLimit)
}

func (b *backend) Name() string { return "ptrace" }

// NewMachine starts a stub process traced by the calling thread. The caller
// must be locked to its OS thread (runtime.LockOSThread) for the life of the
// Machine.
func (b *backend) NewMachine(cfg hvf.Config) (hvf.Machine, error) {
	limit := cfg.AddrLimit
	if limit == 0 {
		limit = defaultAddrLimit
	}
	if limit > stubBase || limit%pageSize != 0 {
		return nil, fmt.Errorf("ptrace: address limit %#x must be page aligned and at most %#x", limit, uint64(stubBase))
	}
	b.mu.Lock()
	spare := b.spare
	b.spare = nil
	watch := b.watch
	b.mu.Unlock()
	if spare != nil {
		if spare.tid == unix.Gettid() && !spare.exited.Load() {
			spare.limit = limit
			return spare, nil // told by WatchStubs, if watched
		}
		spare.Close()
	}
	m, err := startMachine(b.log, limit)
	if err != nil {
		return nil, err
	}
	m.tell(watch)
	return m, nil
}

// WatchStubs implements hvf.StubWatcher. Call it once, before NewMachine.
func (b *backend) WatchStubs(fn func(pidfd int)) {
	b.mu.Lock()
	b.watch = fn
	spare := b.spare
	b.mu.Unlock()
	spare.tell(fn)
}

// tell gives watch a pidfd of m's stub, when there is a watcher (and the
// host made a pidfd at the stub's start).
func (m *machine) tell(watch func(pidfd int)) {
	if m == nil || watch == nil || m.pidfd < 0 {
		return
	}
	fd, err := unix.FcntlInt(uintptr(m.pidfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		m.log.Debug("stub pidfd for the watcher", "error", err)
		return
	}
	watch(fd)
}

// machine is one stub process.
type machine struct {
	log hclog.Logger
	tid int // the tracing thread
	pid int // the stub
	// tracerPid is this process, whose /proc/PID/fd the stub opens.
	tracerPid int
	limit     uint64
	// anchors are the page-table anchor pages the host allowed
	// (anchor.go); anchorsUp says they stand, anchorsLost that a guest
	// operation covered one since.
	anchors     []uint64
	anchorsUp   bool
	anchorsLost bool

	// host is the register state the stub gets when guest code next runs.
	// It holds what the last stop reported, edited by the vCPU.
	host unix.PtraceRegs
	// hostStale says the stub's real registers differ from host (after a
	// syscall stop, whose RAX is -ENOSYS, or an injected syscall).
	hostStale bool
	// ticking says the stub's tick timer runs (tick.go); ticks counts
	// the stops it made.
	ticking bool
	ticks   uint64
	// interruptPending records a signal swallowed while an injected
	// syscall ran (typically a Kick): the next Run reports it.
	interruptPending bool
	// exited is set once the stub has been reaped.
	exited atomic.Bool

	// data is the tracer's mapping of the stub's data area (stubdata.go),
	// the leader's; views use their leader's.
	data []byte

	// files is shared by every thread view of the stub (its threads
	// share one descriptor table).
	files *fileCache
	// aff is this stub thread's CPU placement (affinity.go).
	aff affinity
	// sock is the tracer's end of the descriptor-passing socketpair, -1
	// once closed.
	sock int
	// noProcReopen skips the /proc reopen and always passes descriptors
	// over sock (tests use it to exercise that path).
	noProcReopen bool
	vcpu         *vcpu
	// pending is a batch the stub runs on its own (startBatch), nil
	// when it is stopped.
	pending *pendingBatch
	// gadgetRuns counts the stub's round trips for injected syscalls
	// and batches (debug logs report it), halts the stops of a stub
	// waiting for a notification's answer (notify.go).
	gadgetRuns, halts int
	// layout is what the stub has mapped in the guest range, as far as
	// known; stale says some of it is the previous process's, not yet
	// claimed (layout.go). The leader's; views use their leader's.
	layout spans
	stale  bool
	// prefault holds the hints for the next Apply (prefault.go).
	prefault []prefaultHint
	// mapsFile is the stub's /proc/PID/maps, open once a recycle read
	// it (readMaps), and mapsBuf the buffer it is read into.
	mapsFile *os.File
	mapsBuf  []byte
	// writes tracks the guest's writes once asked (writes.go); writesErr
	// is why it could not be made. The leader's.
	writes    *wp.Tracker
	writesErr error

	// mu guards closed, pidfd and (in Close) sock against Kick and Close,
	// which may run on other goroutines, and the run state below.
	mu     sync.Mutex
	closed bool
	pidfd  int
	// guestRunning says the stub has been resumed to run guest code and
	// its stop not yet seen: only then does a Kick need a signal. A Kick
	// at any other time sets kickPending, which the next Run reports
	// without resuming the stub (a signal queued to a stopped stub would
	// cost a whole extra stop: every signal that arrived while the guest
	// was in a blocking syscall did).
	guestRunning, kickPending bool

	// nf is the stub's seccomp listener (notify.go); a view's is unused.
	nf notifyState
	// hp is the stub's helper thread (helper.go); a view's is unused.
	hp helperState

	// leader is the machine of the stub's first thread when this one is
	// the view of another stub thread (thread.go), else nil; threads is
	// shared by the leader and its views.
	leader  *machine
	threads *stubThreads
}

// startMachine forks and execs the stub, traced by the calling thread, and
// prepares it: ptrace options, unmapping of everything but the stub image,
// closing of inherited descriptors.
func startMachine(log hclog.Logger, limit uint64) (*machine, error) {
	sfd, err := stubFD()
	if err != nil {
		return nil, err
	}
	// The stub's descriptor 0 is one end of a socketpair for passing
	// descriptors (see files.go).
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ptrace: socketpair: %w", err)
	}
	defer unix.Close(sp[1])
	pidfd := -1
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{uintptr(sp[1])},
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Pdeathsig: syscall.SIGKILL,
			PidFD:     &pidfd,
			// A process group of its own keeps terminal signals
			// (^C, ^Z) meant for elfuse away from the stub.
			Setpgid: true,
		},
	}
	pid, err := syscall.ForkExec(fmt.Sprintf("/proc/self/fd/%d", sfd), []string{"elfuse-ptrace-stub"}, attr)
	if err != nil {
		unix.Close(sp[0])
		return nil, fmt.Errorf("ptrace: start stub: %w", err)
	}
	m := &machine{
		log:       log.With("stub_pid", pid),
		tid:       unix.Gettid(),
		pid:       pid,
		tracerPid: os.Getpid(),
		limit:     limit,
		pidfd:     pidfd,
		sock:      sp[0],
		files:     &fileCache{},
		threads:   &stubThreads{},
		aff:       affinity{cpu: -1},
		nf:        notifyState{fd: -1, kickFd: -1},
	}
	m.files.init()
	if err := m.setup(); err != nil {
		m.Close()
		return nil, err
	}
	m.log.Debug("stub started", "tracer_tid", m.tid)
	return m, nil
}

func (m *machine) setup() error {
	ws, err := m.wait()
	if err != nil {
		return fmt.Errorf("ptrace: wait for stub exec: %w", err)
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("ptrace: stub did not stop at exec (status %#x)", uint32(ws))
	}
	if err := unix.PtraceSetOptions(m.pid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return fmt.Errorf("ptrace: set options: %w", err)
	}
	if err := unix.PtraceGetRegs(m.pid, &m.host); err != nil {
		return fmt.Errorf("ptrace: get stub registers: %w", err)
	}
	if m.host.Rip != stubEntry {
		return fmt.Errorf("ptrace: stub stopped at %#x, not at its entry %#x", m.host.Rip, uint64(stubEntry))
	}
	if err := m.shareData(); err != nil { // stubdata.go
		return err
	}
	// One batch does the rest (each injected syscall would be a round
	// trip of its own), with fallbacks for the calls that fail:
	//   - the stub inherited the caller's descriptors that lack
	//     close-on-exec (at least 1 and 2; 0 is the socket): drop them so
	//     that it never keeps a pipe open;
	//   - exec named the stub after its path, /proc/self/fd/N: give ps
	//     and top a recognizable name;
	//   - unmap everything but the stub image (stack, vDSO, vvar) with two
	//     munmaps around it, so that only guest mappings remain below it.
	if err := m.writeStub(scratchPath, []byte(stubComm+"\x00")); err != nil {
		return err
	}
	ents := []batchEntry{
		{nr: unix.SYS_CLOSE_RANGE, args: [6]uint64{1, ^uint64(0) >> 32}},
		{nr: unix.SYS_PRCTL, args: [6]uint64{unix.PR_SET_NAME, scratchPath}},
		{nr: unix.SYS_MUNMAP, args: [6]uint64{0, stubBase}},
		{nr: unix.SYS_MUNMAP, args: [6]uint64{stubBase + stubSize, userTop - (stubBase + stubSize)}},
	}
	if _, err := m.runBatch(ents, nil, false); err != nil {
		return fmt.Errorf("ptrace: prepare stub: %w", err)
	}
	if failed(ents[0].ret) {
		for fd := uint64(1); fd < 3; fd++ {
			m.inject(unix.SYS_CLOSE, fd) // EBADF is fine
		}
	}
	if failed(ents[1].ret) {
		return fmt.Errorf("ptrace: name stub: %w", errnoOf(ents[1].ret))
	}
	if failed(ents[2].ret) || failed(ents[3].ret) {
		if err := m.unmapForeignByMaps(); err != nil {
			return err
		}
	}
	m.placeAnchors() // anchor.go
	m.startHelper()  // helper.go: before the filter, which it must not have
	if NotifyEnabled() && m.pidfd >= 0 {
		// notify.go: no tick, the listener's wait is interrupted by
		// the runtime's own signals.
		err := m.setupNotify()
		if err == nil {
			return nil
		}
		m.log.Debug("no seccomp listener; syscalls stop the stub", "error", err)
	}
	m.startTick() // tick.go
	return nil
}

// stubComm is the stub's command name (at most 15 bytes).
const stubComm = "elfuse-stub"

// userTop is the end of the host's 47-bit user address space (TASK_SIZE
// with 4-level paging), above every mapping exec gives a process unless it
// asks for more.
const userTop = 0x7ffffffff000

// unmapForeignByMaps unmaps the stub's foreign mappings one by one, as
// /proc/PID/maps lists them.
func (m *machine) unmapForeignByMaps() error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", m.pid))
	if err != nil {
		return fmt.Errorf("ptrace: read stub maps: %w", err)
	}
	regions, err := parseMaps(data)
	if err != nil {
		return fmt.Errorf("ptrace: stub maps: %w", err)
	}
	for _, r := range regions {
		if r.start >= stubBase && r.end <= stubBase+stubSize {
			continue
		}
		if r.start >= 1<<63 { // vsyscall: cannot be unmapped
			continue
		}
		if _, err := m.inject(unix.SYS_MUNMAP, r.start, r.end-r.start); err != nil {
			return fmt.Errorf("ptrace: unmap stub region %#x-%#x: %w", r.start, r.end, err)
		}
	}
	return nil
}

// checkThread fails unless called on the tracing thread.
func (m *machine) checkThread() error {
	if tid := unix.Gettid(); tid != m.tid {
		return m.wrongThread(tid)
	}
	if m.exited.Load() {
		return errStubGone
	}
	return nil
}

func (m *machine) wrongThread(tid int) error {
	return fmt.Errorf("ptrace: called on thread %d but the machine belongs to thread %d "+
		"(create and use it from one goroutine locked with runtime.LockOSThread)", tid, m.tid)
}

// ptraceErr explains a failed ptrace request: ESRCH from a live stub means
// the caller is not the tracing thread.
func (m *machine) ptraceErr(what string, err error) error {
	if err == unix.ESRCH && !m.exited.Load() {
		if tid := unix.Gettid(); tid != m.tid {
			return m.wrongThread(tid)
		}
	}
	return fmt.Errorf("ptrace: %s: %w", what, err)
}

var errStubGone = errors.New("ptrace: stub process is gone")

// wait waits for the next state change of the stub. The stub's death is an
// error.
// resumeGuest marks the stub as running guest code, unless a Kick came
// since the last stop: then it reports false and the caller returns
// ExitInterrupted instead of resuming.
func (m *machine) resumeGuest() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kickPending {
		m.kickPending = false
		return false
	}
	m.guestRunning = true
	return true
}

// guestStopped marks the stub as no longer running guest code.
func (m *machine) guestStopped() {
	m.mu.Lock()
	m.guestRunning = false
	m.mu.Unlock()
}

func (m *machine) wait() (unix.WaitStatus, error) { return m.waitWith(goWait4) }

// waitWith is wait with the wait4 call w (goWait4, or rawWait4: tick.go).
func (m *machine) waitWith(w func(pid int, ws *unix.WaitStatus) error) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		err := w(m.pid, &ws)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			m.exited.Store(true)
			return 0, fmt.Errorf("ptrace: wait4 stub: %w", err)
		}
	}
	switch {
	case ws.Exited():
		m.exited.Store(true)
		return ws, fmt.Errorf("%w: exited with status %d", errStubGone, ws.ExitStatus())
	case ws.Signaled():
		m.exited.Store(true)
		return ws, fmt.Errorf("%w: killed by signal %v", errStubGone, ws.Signal())
	}
	return ws, nil
}

// Kick makes the stub stop soon with a signal-delivery stop for SIGURG
// when it runs guest code, and otherwise makes the next Run return
// ExitInterrupted at once. Safe from any goroutine.
func (m *machine) kick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if !m.guestRunning {
		m.kickPending = true
		return
	}
	if m.pidfd >= 0 && m.threads.n.Load() == 0 {
		unix.PidfdSendSignal(m.pidfd, unix.SIGURG, nil, 0)
		if m.nf.kickFd >= 0 {
			// notify.go: the tracer polls the listener, not wait4.
			unix.Write(m.nf.kickFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		}
		return
	}
	// With several stub threads the signal must reach this one: a
	// process-directed one may go to any of them.
	unix.Tgkill(m.stubPid(), m.pid, unix.SIGURG)
}

// Close kills the stub and reaps it. It may be called from any goroutine.
func (m *machine) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.mapsFile != nil {
		m.mapsFile.Close()
		m.mapsFile = nil
	}
	if m.pidfd >= 0 {
		unix.PidfdSendSignal(m.pidfd, unix.SIGKILL, nil, 0)
	} else if !m.exited.Load() {
		unix.Kill(m.pid, unix.SIGKILL)
	}
	m.mu.Unlock()

	// A ptraced child reports its death to its tracer's thread group, so
	// any thread can reap it. If the tracing thread's Run reaped it first,
	// wait4 fails with ECHILD.
	for !m.exited.Load() {
		var ws unix.WaitStatus
		_, err := unix.Wait4(m.pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			break
		}
	}
	m.exited.Store(true)

	m.mu.Lock()
	if m.pidfd >= 0 {
		unix.Close(m.pidfd)
		m.pidfd = -1
	}
	if m.sock >= 0 {
		unix.Close(m.sock)
		m.sock = -1
	}
	if m.leader == nil {
		m.closeNotify() // notify.go
		m.closeData()   // stubdata.go
		if m.writes != nil {
			m.writes.Close()
			m.writes = nil
		}
	}
	m.mu.Unlock()
	m.log.Debug("stub closed", "gadget_runs", m.gadgetRuns, "halts", m.halts)
	return nil
}
