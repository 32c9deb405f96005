package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// TreeHost is the part of Host that reaches other processes: the
// supervisor's process tree. A Host without it runs one process alone:
// fork and clone are ENOSYS, wait finds no child (ECHILD), and kill of
// another pid finds no process (ESRCH). guestproc implements it.
type TreeHost interface {
	// Fork starts a child process as job describes and returns its pid
	// once it runs (with job.WaitExec, a vfork, only after the child
	// execve()d or ended). Errors are abi.Errno values (EAGAIN past
	// --max-procs, ENOMEM when the child could not be built) or job's.
	Fork(job *ForkJob) (int32, error)
	// Wait polls for a child state change matching the wait4 selector
	// pid and options (abi.W*); it never blocks. A zero Pid means
	// matching children exist but none has news; ECHILD that none match.
	Wait(pid int32, options int32) (WaitResult, error)
	// ChildEvents returns a channel closed at the next state change of
	// any child (sample it before Wait so no change is missed).
	ChildEvents() <-chan struct{}
	// Kill sends info (its Signo, 0 to probe) to the processes the kill(2)
	// selector pid names, or with thread to thread pid of process tgid
	// (-1: any). self reports that the caller is among the targets: the
	// tree did not send to it and the caller queues the signal itself.
	Kill(pid, tgid int32, thread bool, info *abi.Siginfo) (self bool, err error)
}

// ForkJob is a fork for TreeHost.Fork. Building the image is the parent's
// own work, done by the host while the supervisor makes the child.
type ForkJob struct {
	// ExitSignal is what the parent gets when the child ends (SIGCHLD,
	// clone's CSIGNAL, 0 for none).
	ExitSignal int32
	// WaitExec: return only once the child execve()d or ended (vfork).
	WaitExec bool
	// AwaitHangup waits until fd, the read end of a pipe, reads EOF or a
	// byte: how Fork waits for a WaitExec child (fd_wait_raw.go).
	AwaitHangup func(fd int)
	// Build makes the image and its descriptor set (indexed by the
	// image's Index fields; the caller keeps owning them). Fork calls it
	// once, while the supervisor makes the child; the parent's memory
	// must stay as it is until the child says it has copied it (Fork
	// returns).
	Build func() (img *ForkImage, fds []int, err error)
}

// WaitResult is a child state change reported by wait4/waitid.
type WaitResult struct {
	Pid    int32
	Status uint32 // wait status, Linux encoding
	Code   int32  // CLD_* for waitid's si_code
	Rusage abi.Rusage
}

// treeHost returns the kernel's TreeHost, if its Host is one.
func (p *Process) treeHost() (TreeHost, bool) {
	if p.Kernel == nil || p.Kernel.Host == nil {
		return nil, false
	}
	th, ok := p.Kernel.Host.(TreeHost)
	return th, ok
}

// SignalFrom queues a signal sent from another process (info carries the
// sender) for the whole process, or for its thread when thread is set,
// and wakes the threads that must notice it: host waits are interrupted,
// vCPUs kicked. It may be called from any goroutine.
func (p *Process) SignalFrom(info *abi.Siginfo, thread bool) {
	sig := int(info.Signo)
	if !validSignal(sig) {
		return
	}
	s := p.sigHandlers()
	var target *Task
	if thread {
		s.mu.Lock()
		for t := range s.tasks {
			target = t
			break
		}
		s.mu.Unlock()
	}
	if target != nil {
		target.SendSignal(sig, info)
		if target.CPU != nil {
			target.CPU.Kick()
		}
		return
	}
	p.KillInfo(info)
}

// ReapsChildren reports whether the process's SIGCHLD disposition makes
// its children disappear at exit instead of becoming zombies (SIG_IGN or
// SA_NOCLDWAIT).
func (p *Process) ReapsChildren() bool {
	a := p.sigHandlers().Action(abi.SIGCHLD)
	return a.Handler == abi.SIG_IGN || a.Flags&abi.SA_NOCLDWAIT != 0
}

// ChildUsage returns the usage of the process's waited-for children
// (RUSAGE_CHILDREN), which its own parent's wait adds to the process's.
func (p *Process) ChildUsage() abi.Rusage { return p.childUsageTotals() }

// ReleaseMachine frees the address space and closes the Machine of an
// ended process, so its host resources go before the exit is reported
// (a ptrace stub is reaped then, and its CPU time joins the guestproc's
// RUSAGE_CHILDREN, which the parent's wait4 reports).
//
// Preconditions: the process has exited; called on the vCPU thread.
func (p *Process) ReleaseMachine() {
	m := p.MM
	if m == nil {
		return
	}
	machine := m.machine
	m.Close()
	if machine != nil {
		machine.Close()
	}
}
