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

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Mode is the hidden first argument that makes the elfuse binary a guestproc.
const Mode = ipc.GuestprocMode

// Main runs a guestproc and returns its host exit code.
func Main(supervisorPid int) int {
	// The vCPU must stay on one OS thread for its whole life (KVM kicks
	// by tid; ptrace requests must come from the tracer thread).
	runtime.LockOSThread()
	holdTerminalSignals() // jobctl.go

	if os.Getppid() != supervisorPid {
		// The supervisor died before Pdeathsig was armed.
		return 1
	}
	conn := ipc.NewConn(ipc.GuestprocControlFD)
	var start ipc.Start
	if _, err := conn.Expect(ipc.MsgStart, &start); err != nil {
		fmt.Fprintf(os.Stderr, "elfuse guestproc: %v\n", err)
		return 1
	}
	newLog := func() hclog.Logger {
		return hclog.New(&hclog.LoggerOptions{
			Name:   "guestproc",
			Level:  hclog.LevelFromString(start.LogLevel),
			Output: os.Stderr,
		}).With("pid", start.Pid, "host_pid", os.Getpid())
	}
	log := newLog()
	stopProfile := startProfile(log)
	defer stopProfile()

	backend, err := openBackend(start.Backend, log)
	if err != nil {
		conn.Send(ipc.MsgExecFailed, ipc.ExecFailed{
			Message:     err.Error(),
			Unavailable: errors.Is(err, hvf.ErrUnavailable),
		})
		return 1
	}
	forkFD := ipc.GuestprocForkFD
	var machine hvf.Machine
	if start.Spare {
		// A warm spare: make the VM now, then wait to be given a fork.
		machine, err = (&kernel.Kernel{Backend: backend}).NewForkMachine()
		if err != nil {
			log.Debug("spare: machine made at fork time instead", "error", err)
			machine = nil
		}
		var assign ipc.Start
		fds, err := conn.Expect(ipc.MsgStart, &assign)
		if err != nil || len(fds) != 1 || !assign.Fork {
			if err == nil {
				closeFDs(fds)
			}
			return 1 // the supervisor ended or dropped the spare
		}
		start, forkFD = assign, fds[0]
		log = newLog()
	}
	root, path, err := setupFS(&start)
	if err == nil && root != nil {
		defer root.Close()
	}
	h := newHost(conn, start, log)
	k := &kernel.Kernel{
		Config:  kernel.Config{Log: log, Timeout: start.Timeout, Root: root},
		Host:    h,
		Backend: backend,
	}
	var task *kernel.Task
	switch {
	case err != nil:
	case start.Fork:
		task, err = h.startForked(k, forkFD, machine)
	default:
		task, err = k.StartProcess(path, start.Argv, start.Envp)
	}
	if err != nil {
		var e abi.Errno
		if !errors.As(err, &e) {
			e = abi.EIO
		}
		conn.Send(ipc.MsgExecFailed, ipc.ExecFailed{Errno: int(e), Message: err.Error()})
		return 1
	}
	h.setProcess(task.Proc)
	go h.serve()
	if err := conn.Send(ipc.MsgStarted, struct{}{}); err != nil {
		log.Error("tell supervisor", "error", err)
		return 1
	}
	stopSignals := forwardSignals(task, log)
	status, err := task.Run()
	stopSignals()
	if err != nil {
		log.Error("guest stopped by an internal error", "error", err)
		return 1
	}
	task.Proc.FDs.CloseAll()
	task.Proc.ReleaseMachine()
	if err := conn.Send(ipc.MsgExited, ipc.Exited{Status: status, Rusage: usage(task.Proc)}); err != nil {
		log.Error("report exit", "error", err)
		return 1
	}
	return 0
}

// usage is what the parent's wait4 reports for this process: its own host
// usage (with its reaped host children: a ptrace stub runs the guest's
// code) plus that of the guest children it waited for.
func usage(p *kernel.Process) abi.Rusage {
	var r, hc unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &hc)
	r.Utime.Sec += hc.Utime.Sec
	r.Utime.Usec += hc.Utime.Usec
	r.Stime.Sec += hc.Stime.Sec
	r.Stime.Usec += hc.Stime.Usec
	r.Minflt += hc.Minflt
	r.Majflt += hc.Majflt
	c := p.ChildUsage()
	us := func(sec, usec int64) int64 { return sec*1e6 + usec }
	ut := us(r.Utime.Sec, r.Utime.Usec) + us(c.Utime.Sec, c.Utime.Usec)
	st := us(r.Stime.Sec, r.Stime.Usec) + us(c.Stime.Sec, c.Stime.Usec)
	return abi.Rusage{
		Utime:  abi.Timeval{Sec: ut / 1e6, Usec: ut % 1e6},
		Stime:  abi.Timeval{Sec: st / 1e6, Usec: st % 1e6},
		Maxrss: max(r.Maxrss, c.Maxrss), Minflt: r.Minflt + c.Minflt, Majflt: r.Majflt + c.Majflt,
		Inblock: r.Inblock + c.Inblock, Oublock: r.Oublock + c.Oublock,
		Nvcsw: r.Nvcsw + c.Nvcsw, Nivcsw: r.Nivcsw + c.Nivcsw,
	}
}

// hostSignals are the host signals a guestproc passes on to its guest. Stop
// and continue signals keep their host default (the whole tree stops with
// the terminal's ^Z) until job control lands in the supervisor.
var hostSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGWINCH}
