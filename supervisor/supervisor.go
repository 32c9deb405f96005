// Package supervisor is the elfuse CLI process: it owns the guest PID
// namespace and the process tree, starts one guestproc host process per
// guest process (the elfuse binary re-executed in guestproc mode) and turns
// the tree's outcome into the CLI's exit status.
//
// Exit status, as a shell would report the guest: the guest's exit code, or
// 128+N when a signal N killed it; 127 when the program is missing, 126 when
// it cannot be executed, 125 when elfuse itself cannot run it (no usable
// hypervisor, internal failure).
package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Exit codes of the CLI for its own failures.
const (
	ExitCannotExec = 126
	ExitNotFound   = 127
	ExitInternal   = 125
)

// Config is one invocation.
type Config struct {
	Program  string   // as the user typed it
	Args     []string // guest argv; Args[0] is argv[0]
	Env      []string // guest environment
	Backend  string
	Timeout  int
	LogLevel string
	// MaxProcs bounds the guest processes alive or zombie at once (fork
	// past it fails with EAGAIN); 0 means DefaultMaxProcs.
	MaxProcs int
	Log      hclog.Logger
	// Sysroot, Binds and Workdir shape the guest's file system
	// (sysroot.go); Program is then looked up inside it.
	Sysroot string
	Binds   []ipc.Bind
	Workdir string
	// Trace, when set, receives a line per syscall of every guest process
	// (--trace; OpenTrace).
	Trace *os.File
	// TraceOut, when set, receives the timeline of every guest process
	// (--trace-out; OpenTraceOut), without the syscalls shorter than
	// TraceOutMinUs µs.
	TraceOut      *os.File
	TraceOutMinUs int64
	// Net is NetHost or NetNone (--net; netns.go).
	Net string
	// Anchor, when set, is let go while the tree is quiet (anchor.go).
	Anchor Anchor
}

// DefaultMaxProcs is --max-procs when not given.
const DefaultMaxProcs = 4096

// Run runs the program as guest pid 1 and returns the CLI exit status:
// pid 1's. When pid 1 ends, every process left is killed, as when the
// init of a PID namespace exits.
func Run(cfg Config) int {
	log := cfg.Log.Named("supervisor")
	path, err := cfg.Program, error(nil)
	if !cfg.contained() {
		path, err = lookPath(cfg.Program, cfg.Env)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "elfuse: %s: %v\n", cfg.Program, err)
		return ExitNotFound
	}
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = DefaultMaxProcs
	}
	// Before any guestproc exists: the caller's descriptors go to pid 1
	// only (inherit.go).
	inherited, closed := takeInherited(), closedStdio()
	defer func() { closeFDs(inherited) }()
	s := newSupervisor(cfg, log)
	if code, done := s.setupNet(&cfg, inherited); done { // netns.go
		return code
	}
	defer removeTreeDirs(log)  // after every guestproc ended: treedirs.go
	defer sweepTreeDirs(log)() // before any guestproc: treedirs.go
	defer s.spawner.stop()
	defer s.startControl()() // elfuse dump and SIGUSR1: control.go
	init := s.tree.NewInit(path, cfg.Args, hostLeads())
	p, err := s.spawn(init.Pid, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "elfuse: %v\n", err)
		return ExitInternal
	}
	stopSignals := s.relaySignals(p.cmd.Process) // jobctl_signals.go
	defer stopSignals()

	err = p.conn.Send(ipc.MsgStart, ipc.Start{
		Path: path, Argv: cfg.Args, Envp: cfg.Env, Pid: init.Pid, Ppid: 0,
		Backend: cfg.Backend, Timeout: cfg.Timeout, LogLevel: cfg.LogLevel,
		Sysroot: cfg.Sysroot, Binds: cfg.Binds, Workdir: cfg.Workdir, Trace: cfg.Trace != nil,
		TraceOut: cfg.TraceOut != nil, TraceOutMinUs: cfg.TraceOutMinUs,
		Inherited: fdNumbers(inherited), Closed: fdNumbers(closed),
	}, inherited...)
	// Pid 1 has its copies: a pipe end kept here would hold off the
	// reader's EOF after pid 1 closed it.
	closeFDs(inherited)
	inherited = nil
	if err != nil {
		return p.fail(log, err)
	}
	var raw ipc.Raw
	var failed ipc.ExecFailed
	t, fds, err := p.conn.Recv(&raw)
	for err == nil && t == ipc.MsgHostStub && len(fds) == 1 {
		p.stubs.keep(fds[0]) // stubs.go: the backend's start and the exec
		t, fds, err = p.conn.Recv(&raw)
	}
	switch {
	case err != nil:
		return p.fail(log, err)
	case t == ipc.MsgExecFailed:
		if err := raw.Decode(&failed); err != nil {
			return p.fail(log, err)
		}
		p.cmd.Wait()
		fmt.Fprintf(os.Stderr, "elfuse: %s\n", failed.Message)
		switch {
		case failed.Unavailable:
			return ExitInternal
		case abi.Errno(failed.Errno) == abi.ENOENT:
			return ExitNotFound
		default:
			return ExitCannotExec
		}
	case t != ipc.MsgStarted:
		return p.fail(log, fmt.Errorf("unexpected message %d from guestproc", t))
	}
	go s.serve(s.add(p))
	status := <-s.initDone
	s.killAll()
	s.wg.Wait()
	return exitCode(cfg.Program, status)
}

// guestprocHandle is a started guestproc host process.
type guestprocHandle struct {
	pid  int32
	cmd  *exec.Cmd
	conn *ipc.Conn
	// stubs are the host processes holding its guest memory (stubs.go);
	// only the goroutine reading conn touches them.
	stubs stubSet
	// waited says cmd.Wait was called.
	waited bool
}

// fail reports a broken guestproc and reaps it.
func (p *guestprocHandle) fail(log hclog.Logger, err error) int {
	p.cmd.Process.Kill()
	werr := p.cmd.Wait()
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("guestproc ended unexpectedly (%v)", werr)
	}
	fmt.Fprintf(os.Stderr, "elfuse: internal error: %v\n", err)
	return ExitInternal
}

// exitCode turns a Linux wait status into a shell-style exit status and
// reports a signal death on stderr the way a shell does.
func exitCode(prog string, status uint32) int {
	ws := syscall.WaitStatus(status)
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		sig := ws.Signal()
		if sig != unix.SIGINT && sig != unix.SIGPIPE {
			msg := signalDescription(sig)
			if ws.CoreDump() {
				msg += " (core dumped)"
			}
			fmt.Fprintf(os.Stderr, "elfuse: %s: %s\n", prog, msg)
		}
		return 128 + int(sig)
	}
	return ExitInternal
}

// signalDescription is the text a shell prints for a fatal signal.
func signalDescription(sig syscall.Signal) string {
	s := sig.String()
	if s == "" {
		return "signal " + strconv.Itoa(int(sig))
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// lookPath finds the program like execvp: a name with a slash is used as
// is, others are searched in the guest's PATH.
func lookPath(prog string, env []string) (string, error) {
	if strings.Contains(prog, "/") {
		if _, err := os.Stat(prog); err != nil {
			return "", errors.New("No such file or directory")
		}
		return prog, nil
	}
	pathVar := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("command not found")
}

// hostLeads reports what elfuse's own host process leads.
func hostLeads() Leads {
	pid := os.Getpid()
	sid, _ := unix.Getsid(0)
	return Leads{Group: unix.Getpgrp() == pid, Session: sid == pid}
}
