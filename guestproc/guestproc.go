// Package guestproc is one guest Linux process: a host process (the elfuse
// binary re-executed in a hidden mode) that owns one VM, runs the guest's
// vCPUs and serves their syscalls with the kernel. It talks to the
// supervisor over the ipc control socket it inherits as descriptor 3.
//
// Start-up protocol (see package ipc): read Start; load the program; send
// ExecFailed and exit 1, or Started; run; send Exited with the wait status
// and exit 0. Any other exit status of a guestproc means it failed itself.
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
	log := hclog.New(&hclog.LoggerOptions{
		Name:   "guestproc",
		Level:  hclog.LevelFromString(start.LogLevel),
		Output: os.Stderr,
	}).With("pid", start.Pid, "host_pid", os.Getpid())

	backend, err := openBackend(start.Backend, log)
	if err != nil {
		conn.Send(ipc.MsgExecFailed, ipc.ExecFailed{
			Message:     err.Error(),
			Unavailable: errors.Is(err, hvf.ErrUnavailable),
		})
		return 1
	}
	root, path, err := setupFS(&start)
	if err == nil && root != nil {
		defer root.Close()
	}
	h := &host{pid: start.Pid, ppid: start.Ppid}
	k := &kernel.Kernel{
		Config:  kernel.Config{Log: log, Timeout: start.Timeout, Root: root},
		Host:    h,
		Backend: backend,
	}
	var task *kernel.Task
	if err == nil {
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
	if err := conn.Send(ipc.MsgExited, ipc.Exited{Status: status}); err != nil {
		log.Error("report exit", "error", err)
		return 1
	}
	return 0
}

// host implements kernel.Host for a single guest process.
type host struct {
	pid, ppid int32
}

func (h *host) Pid() int32         { return h.pid }
func (h *host) Ppid() int32        { return h.ppid }
func (h *host) Exit(status uint32) {}

func (h *host) Execed(exe string, argv []string) {}

// hostSignals are the host signals a guestproc passes on to its guest. Stop
// and continue signals keep their host default (the whole tree stops with
// the terminal's ^Z) until job control lands in the supervisor.
var hostSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGWINCH}
