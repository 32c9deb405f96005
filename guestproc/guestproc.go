// Package guestproc is one guest Linux process: a host process (the elfuse
// binary re-executed in a hidden mode) that owns one VM, runs the guest's
// vCPUs and serves their syscalls with the kernel. It talks to the
// supervisor over the ipc control socket it inherits as descriptor 3.
//
// Start-up protocol (see package ipc): read Start; load the program (or,
// for a fork child, read the image from descriptor 4); send ExecFailed and
// exit 1, or Started; run; send Exited with the wait status and exit 0.
// Any other exit status of a guestproc means it failed itself.
package guestproc

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/hvf/ptrace"
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Mode is the hidden first argument that makes the elfuse binary a guestproc.
const Mode = ipc.GuestprocMode

// Main runs a guestproc and returns its host exit code. anchor (may be
// nil) is let go while the guestproc waits, as a spare, for a process to
// run, and while its guest computes (anchor.go).
func Main(supervisorPid int, anchor Anchor) int {
	guard := newAnchorGuard(anchor)
	idle := func(idle bool) { guard.hold(!idle) }
	// The vCPU must stay on one OS thread for its whole life (KVM kicks
	// by tid; ptrace requests must come from the tracer thread).
	runtime.LockOSThread()
	holdTerminalSignals() // jobctl.go

	if os.Getppid() != supervisorPid {
		// The supervisor died before Pdeathsig was armed.
		return 1
	}
	ignoreChildStops()
	if os.Getenv("ELFUSE_PTRACE_NOTIFY") != "0" {
		ptrace.EnableNotify(kernel.WholeRegsSyscalls()) // hvf/ptrace/notify.go
	}
	mapJobGen()
	conn := ipc.NewConn(ipc.GuestprocControlFD)
	// Its reader is a goroutine of its own (host.serve): on the poller it
	// neither holds a thread nor wakes sysmon (ipc/poll.go).
	if err := conn.UsePoller(); err != nil {
		fmt.Fprintf(os.Stderr, "elfuse guestproc: %v\n", err)
		return 1
	}
	var start ipc.Start
	inherited, err := conn.Expect(ipc.MsgStart, &start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "elfuse guestproc: %v\n", err)
		return 1
	}
	newLog := func(pid int32) hclog.Logger {
		return hclog.New(&hclog.LoggerOptions{
			Name:   "guestproc",
			Level:  hclog.LevelFromString(start.LogLevel),
			Output: os.Stderr,
		}).With("pid", pid, "host_pid", os.Getpid())
	}
	log := newLog(start.Pid)
	stopProfile := startProfile(log, 0)
	defer func() { stopProfile() }()

	backend, err := openBackend(start.Backend, log)
	if err != nil {
		conn.Send(ipc.MsgExecFailed, ipc.ExecFailed{
			Message:     err.Error(),
			Unavailable: errors.Is(err, hvf.ErrUnavailable),
		})
		return 1
	}
	watchStubs(backend, conn, log)
	forkFD := ipc.GuestprocForkFD
	var machine hvf.Machine
	var ram *kernel.ChildRAM // the next fork child's RAM, made ahead or kept
	var clock lifeClock      // zero: the first life reports the whole guestproc
	if start.Spare {
		// A warm spare: make the VM now, then wait to be given a fork.
		machine = newForkMachine(backend, log)
		ram = newForkRAM(log)
		idle(true)
		assign, fd, ok := nextStart(conn) // fork_ticket.go
		idle(false)
		if !ok {
			return 1 // the supervisor ended or dropped the spare
		}
		start, forkFD = assign, fd
		log = newLog(start.Pid)
	}
	hostState := saveHostThreadState()
	lives := 0
	for {
		l := life{conn: conn, start: start, forkFD: forkFD, machine: machine, ram: ram, backend: backend,
			log: log, newLog: newLog, clock: clock, inherited: inherited, guard: guard}
		inherited = nil
		code, h, kept, keptRAM := l.run()
		if code == ticketUnused {
			// A spare again, on the Machine and RAM it had, with no
			// reader of the control socket (fork_ticket.go).
			log.Debug("fork ticket closed unused", "parent", start.Ppid)
			idle(true)
			next, fd, ok := nextStart(conn)
			idle(false)
			if !ok {
				dropKept(kept, keptRAM)
				return 1
			}
			start, forkFD, machine, ram = next, fd, kept, keptRAM
			if lives > 0 {
				clock = startLifeClock(machine)
			}
			log = newLog(start.Pid)
			continue
		}
		if h == nil {
			return code
		}
		// Recycled: wait to become the next fork child (spawn_recycle.go).
		// Its forwarding of terminal signals ended with the process: the
		// forwarder drops them until the next one (signals.go).
		holdTerminalSignals()
		stopProfile()
		lives++
		stopProfile = func() {}
		hostState.restore()
		if kept == nil {
			kept = newForkMachine(backend, log)
		}
		if keptRAM == nil {
			keptRAM = newForkRAM(log)
		}
		// The next life's clock starts before the wait, not on the
		// fork's way (its reads, the stub's /proc stat among them, cost
		// ~30-60 us here): the wait itself uses next to no CPU.
		next := startLifeClock(kept)
		idle(true)
		a, ok := awaitAssignment(h)
		idle(false)
		if !ok {
			dropKept(kept, keptRAM)
			return 0
		}
		start, forkFD, machine, ram = a.start, a.fds[0], kept, keptRAM
		clock = next
		log = newLog(start.Pid)
		stopProfile = startProfile(log, lives)
	}
}

// dropKept closes the Machine (if any) and RAM a guestproc kept for its
// next process.
func dropKept(m hvf.Machine, ram *kernel.ChildRAM) {
	if m != nil {
		m.Close()
	}
	ram.Close()
}

// newForkRAM makes the RAM of a future fork child, or returns nil (the
// child makes it itself).
func newForkRAM(log hclog.Logger) *kernel.ChildRAM {
	r, err := kernel.NewForkRAM()
	if err != nil {
		log.Debug("spare: RAM made at fork time instead", "error", err)
		return nil
	}
	return r
}

// newForkMachine makes the VM of a future fork child, or returns nil (the
// child makes one itself).
func newForkMachine(backend hvf.Backend, log hclog.Logger) hvf.Machine {
	m, err := (&kernel.Kernel{Backend: backend}).NewForkMachine()
	if err != nil {
		log.Debug("spare: machine made at fork time instead", "error", err)
		return nil
	}
	return m
}

// life is one guest process run by this guestproc: the first one, or a
// later one of a recycled guestproc.
type life struct {
	conn    *ipc.Conn
	start   ipc.Start
	forkFD  int
	machine hvf.Machine      // made ahead for a fork child, or nil
	ram     *kernel.ChildRAM // likewise its RAM (life.run takes it)
	backend hvf.Backend
	log     hclog.Logger
	newLog  func(pid int32) hclog.Logger
	clock   lifeClock
	// inherited are pid 1's descriptors from elfuse's caller, at the
	// guest numbers start.Inherited gives.
	inherited []int
	guard     *anchorGuard
}

// run runs the process to its end and returns the guestproc's exit code.
// When the supervisor may reuse this guestproc it returns the life's host
// (whose reader receives the next assignment), the Machine and RAM kept for the
// next process (nil: make another).
func (l *life) run() (code int, recycled *host, kept hvf.Machine, keptRAM *kernel.ChildRAM) {
	start, log, conn := l.start, l.log, l.conn
	if start.Fork && !start.Reserved {
		queueSignals() // signals.go: the parent goes on before we run
	}
	acct := startStats() // sysstats.go; nil unless ELFUSE_SYSSTATS
	lifeStart := kernel.TraceNow()
	kernel.ResetSynthCwd() // a recycled guestproc starts afresh
	root, path, err := setupFS(&start)
	if err == nil && root != nil {
		defer root.Close()
	}
	h := newHost(conn, start, log)
	h.clock = l.clock // the process's own CPU time counts from it (usage.go)
	k := &kernel.Kernel{
		Config: kernel.Config{Log: log, Timeout: start.Timeout, Root: root, Trace: tracer(&start),
			TraceOut: traceOut(&start)},
		Host:    h,
		Backend: l.backend,
	}
	var task *kernel.Task
	switch {
	case err != nil:
		if l.machine != nil {
			l.machine.Close()
		}
		l.ram.Close()
		if start.Fork {
			unix.Close(l.forkFD)
		}
	case start.Fork:
		named := func() {
			// A ticket's child learns its pid last (fork_ticket.go);
			// its life begins with the fork.
			queueSignals() // not before: the fork is now
			h.pid = start.Pid
			h.ppid.Store(start.Ppid)
			h.cfg = start
			log = l.newLog(start.Pid)
			h.log, k.Log = log, log
			lifeStart = kernel.TraceNow()
		}
		reserved := start.Reserved
		if reserved {
			l.guard.hold(false) // idle until the parent forks
		}
		task, err = h.startForked(k, &start, l.forkFD, l.machine, l.ram, l.assignedBy(&start, named))
		if reserved {
			l.guard.hold(true)
		}
		if errors.Is(err, errTicketUnused) {
			return ticketUnused, nil, l.machine, l.ram
		}
	default:
		task, err = k.StartProcess(path, start.Argv, start.Envp)
		if err == nil {
			adoptCallerFDs(task.Proc.FDs, start, l.inherited, log)
			l.inherited = nil
		}
	}
	closeFDs(l.inherited)
	if err != nil {
		var e abi.Errno
		if !errors.As(err, &e) {
			e = abi.EIO
		}
		var lost childLost
		conn.Send(ipc.MsgExecFailed, ipc.ExecFailed{Errno: int(e), Message: err.Error(), Lost: errors.As(err, &lost)})
		return 1, nil, nil, nil
	}
	h.setProcess(task.Proc)
	k.TraceOutStart(task.Proc, start.Pid, start.Ppid, lifeStart, start.Fork) // kernel/traceout_task.go
	go h.serve()
	// Pid 1's start is what the supervisor waits for; a fork child's
	// Started told it nothing (its ExecFailed is the news), and the
	// message was a wake-up of the supervisor on every fork's way.
	if !start.Fork {
		if err := conn.Send(ipc.MsgStarted, struct{}{}); err != nil {
			log.Error("tell supervisor", "error", err)
			return 1, nil, nil, nil
		}
		h.sendComm() // procfs.go: a fork child's is its parent's
	}
	h.markStarted() // textbusy.go
	stopSignals := forwardSignals(task, log)
	acct.running()
	l.guard.watch(task)
	status, err := task.Run()
	h.endTickets() // fork_ticket.go: before Exited
	l.guard.watch(nil)
	acct.ran()
	stopSignals()
	if err != nil {
		log.Error("guest stopped by an internal error", "error", err)
		return 1, nil, nil, nil
	}
	traceExit(&start, status) // trace.go
	k.TraceOutExit(task.Proc, start.Pid, lifeStart, status)
	tEnd := time.Now()
	task.Proc.FDs.CloseAll()
	// A vfork parent resumes when the child ends; the guestproc living
	// on must not keep it waiting.
	h.releaseVforkParent()
	// pid 1's end is the end of the tree: nothing to recycle for.
	reuse := start.Fork && start.Pid != 1
	report := func(ru abi.Rusage) bool {
		acct.finish(task.Proc, start.Pid, start.Fork, status, log)
		err := conn.Send(ipc.MsgExited, ipc.Exited{Status: status, Rusage: ru, Reusable: reuse, Comm: task.Proc.Comm()})
		if err != nil {
			log.Error("report exit", "error", err)
		}
		return err == nil
	}
	// A guestproc on a kept machine can count its usage (the stub's
	// included) before releasing the address space, so its parent's wait
	// does not wait for the release too (1-10 ms of unmapping here): the
	// exit is told first, as Linux's exit_notify comes after exit_files
	// but the parent never waits for exit_mm's teardown of shared-nothing
	// memory. Otherwise the stub's time is only known once it is reaped.
	// A shared mapping of a file open for writing is not shared-nothing:
	// until it goes, execve of that file fails with ETXTBSY.
	writers := task.Proc.MM.HoldsFileWriters()
	early := reuse && l.machine != nil && !writers
	if early && !report(usageSince(task.Proc, l.clock, l.machine)) {
		l.machine.Close()
		return 1, nil, nil, nil
	}
	if reuse {
		kept, keptRAM = task.Proc.ReleaseForReuse()
		if d, ok := kept.(interface{ Drain() error }); ok && writers {
			d.Drain() // hvf/ptrace: the stub's munmap runs on its own
		}
	} else {
		task.Proc.ReleaseMachine()
	}
	if log.IsDebug() {
		log.Debug("process ended", "status", status, "release", time.Since(tEnd),
			"recycle", reuse && kept != nil, "told_first", early)
	}
	if !early && !report(usageSince(task.Proc, l.clock, kept)) {
		if kept != nil {
			kept.Close()
		}
		keptRAM.Close()
		return 1, nil, nil, nil
	}
	if !reuse {
		return 0, nil, nil, nil
	}
	return 0, h, kept, keptRAM
}

// hostSignals are the host signals a guestproc passes on to its guest. Stop
// and continue signals keep their host default (the whole tree stops with
// the terminal's ^Z) until job control lands in the supervisor.
var hostSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGWINCH}

// adoptCallerFDs makes pid 1's descriptor table the caller's: the
// descriptors it left open above stderr at their numbers, and the standard
// ones it had closed closed (the guestproc's own 0-2 stand in for them).
// The table owns fds afterwards.
func adoptCallerFDs(t *kernel.FDTable, start ipc.Start, fds []int, log hclog.Logger) {
	for _, fd := range start.Closed {
		t.Close(fd)
	}
	for i, fd := range fds {
		if i >= len(start.Inherited) {
			unix.Close(fd)
			continue
		}
		if err := t.InstallAt(start.Inherited[i], fd, false); err != nil {
			log.Warn("inherited descriptor above RLIMIT_NOFILE dropped", "fd", start.Inherited[i])
			unix.Close(fd)
		}
	}
}
