package kernel

// Process creation and reaping: fork, vfork, clone, clone3, wait4 and
// waitid. Every variant of process creation reduces to (*Task).clone; the
// work across processes (a child pid, a new guestproc, the tree's wait
// statuses) is the TreeHost's.

import (
	"encoding/binary"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
)

func init() {
	register(map[uint64]Syscall{
		abi.SYS_FORK:  {Name: "fork", Fn: Fork},
		abi.SYS_VFORK: {Name: "vfork", Fn: Vfork},
		abi.SYS_CLONE: {Name: "clone", Fn: Clone, Support: Partial,
			Note: "processes and threads; CLONE_VM without CLONE_VFORK or CLONE_THREAD is EINVAL; namespaces EPERM; CLONE_FILES/FS/SYSVSEM copy instead of share between processes"},
		abi.SYS_CLONE3: {Name: "clone3", Fn: Clone3, Support: Partial, Note: "as clone; set_tid and cgroups EINVAL"},
		abi.SYS_WAIT4:  {Name: "wait4", Fn: Wait4},
		abi.SYS_WAITID: {Name: "waitid", Fn: Waitid},
	})
}

// cloneArgs is the reduced form of every process-creation call.
type cloneArgs struct {
	flags      uint64
	exitSignal int32
	stack      abi.Addr // new stack pointer for the child (0: the parent's)
	parentTID  abi.Addr
	childTID   abi.Addr
	tls        uint64
	// pidfdOut receives the child's pidfd with CLONE_PIDFD.
	pidfdOut abi.Addr
}

// Fork implements Linux syscall fork(2).
func Fork(t *Task, a *Args) (uint64, error) {
	return t.clone(cloneArgs{exitSignal: abi.SIGCHLD})
}

// Vfork implements Linux syscall vfork(2).
func Vfork(t *Task, a *Args) (uint64, error) {
	return t.clone(cloneArgs{flags: abi.CLONE_VM | abi.CLONE_VFORK, exitSignal: abi.SIGCHLD})
}

// Clone implements Linux syscall clone(2) (x86-64 argument order: flags,
// stack, parent_tid, child_tid, tls).
func Clone(t *Task, a *Args) (uint64, error) {
	flags := a[0]
	if flags&abi.CLONE_PIDFD != 0 && flags&abi.CLONE_PARENT_SETTID != 0 {
		return 0, abi.EINVAL // both would write parent_tid
	}
	return t.clone(cloneArgs{
		flags:      flags &^ abi.CSIGNAL,
		exitSignal: int32(flags & abi.CSIGNAL),
		stack:      a.Addr(1),
		parentTID:  a.Addr(2),
		childTID:   a.Addr(3),
		tls:        a[4],
		pidfdOut:   a.Addr(2), // CLONE_PIDFD shares parent_tid's slot
	})
}

// Clone3 implements Linux syscall clone3(2).
func Clone3(t *Task, a *Args) (uint64, error) {
	size := a[1]
	if size < abi.CLONE_ARGS_SIZE_VER0 || size > 4096 {
		return 0, abi.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(a.Addr(0), b); err != nil {
		return 0, err
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	// Fields past the ones known must be zero (copy_struct_from_user).
	for _, c := range b[min(uint64(len(b)), 88):] {
		if c != 0 {
			return 0, abi.E2BIG
		}
	}
	flags, exitSig, stack, stackSize := u(0), u(4), u(5), u(6)
	if exitSig&^abi.CSIGNAL != 0 || flags&abi.CSIGNAL != 0 {
		return 0, abi.EINVAL
	}
	if size >= 80 && (u(8) != 0 || u(9) != 0) { // set_tid, set_tid_size
		return 0, abi.EINVAL
	}
	if (stack == 0) != (stackSize == 0) {
		return 0, abi.EINVAL
	}
	if flags&abi.CLONE_INTO_CGROUP != 0 {
		return 0, abi.EINVAL
	}
	return t.clone(cloneArgs{
		flags:      flags,
		exitSignal: int32(exitSig),
		stack:      abi.Addr(stack + stackSize),
		parentTID:  abi.Addr(u(3)),
		childTID:   abi.Addr(u(2)),
		tls:        u(7),
		pidfdOut:   abi.Addr(u(1)),
	})
}

var loggedClone sync.Map // message → struct{}

// logOnce logs msg at info level the first time it is seen.
func (t *Task) logOnce(msg string, args ...any) {
	if _, seen := loggedClone.LoadOrStore(msg, struct{}{}); !seen {
		t.Log.Info(msg, args...)
	}
}

// clone creates a child process (every fork variant). The parent's vCPU is
// stopped while the image is taken: the task is in this syscall.
func (t *Task) clone(c cloneArgs) (uint64, error) {
	const namespaces = abi.CLONE_NEWNS | abi.CLONE_NEWCGROUP | abi.CLONE_NEWUTS | abi.CLONE_NEWIPC |
		abi.CLONE_NEWUSER | abi.CLONE_NEWPID | abi.CLONE_NEWNET | abi.CLONE_NEWTIME
	f := c.flags
	switch {
	case f&abi.CLONE_THREAD != 0:
		return t.cloneThread(c) // sys_clone_thread.go
	case f&abi.CLONE_SIGHAND != 0 && f&abi.CLONE_VM == 0:
		return 0, abi.EINVAL
	case f&abi.CLONE_VM != 0 && f&abi.CLONE_VFORK == 0:
		t.logOnce("clone: CLONE_VM without CLONE_VFORK or CLONE_THREAD is not supported; returning EINVAL", "flags", f)
		return 0, abi.EINVAL
	case f&namespaces != 0:
		return 0, abi.EPERM
	case f&abi.CLONE_PIDFD != 0 && f&abi.CLONE_DETACHED != 0:
		return 0, abi.EINVAL
	case f&(abi.CLONE_FILES|abi.CLONE_FS|abi.CLONE_SYSVSEM) != 0 && f&abi.CLONE_VFORK == 0:
		t.logOnce("clone: CLONE_FILES/CLONE_FS/CLONE_SYSVSEM between processes copy instead of share", "flags", f)
	}
	th, ok := t.Proc.treeHost()
	if !ok {
		return 0, abi.ENOSYS
	}
	if f&abi.CLONE_PIDFD != 0 {
		if err := t.checkPidfdOut(c.pidfdOut); err != nil { // sys_pidfd_clone.go
			return 0, err
		}
	}
	vfork := f&abi.CLONE_VFORK != 0
	release := func() {}
	job := &ForkJob{
		ExitSignal: c.exitSignal,
		// A vfork without shared memory (CLONE_VFORK alone) still waits.
		WaitExec:    vfork,
		AwaitHangup: t.awaitHangup,
		Build: func() (*ForkImage, []int, error) {
			img, fds, rel, err := t.forkImage(vfork && f&abi.CLONE_VM != 0)
			if err != nil {
				return nil, nil, err
			}
			release = rel
			img.Vfork = vfork && f&abi.CLONE_VM != 0
			if c.stack != 0 {
				img.Regs.RSP = uint64(c.stack)
			}
			if f&abi.CLONE_SETTLS != 0 {
				img.FSBase = c.tls
			}
			if f&abi.CLONE_CHILD_SETTID != 0 {
				img.SetChildTID = c.childTID
			}
			if f&abi.CLONE_CHILD_CLEARTID != 0 {
				img.ClearChildTID = c.childTID
			}
			return img, fds, nil
		},
	}
	events := th.ChildEvents() // before the child exists (sys_proc_quiet.go)
	pid, err := th.Fork(job)
	release()
	if err != nil {
		return 0, err
	}
	t.Proc.noteQuietChild(events, pid, c.exitSignal)
	if f&abi.CLONE_PIDFD != 0 {
		t.clonePidfd(pid, c.pidfdOut) // sys_pidfd_clone.go
	}
	if f&abi.CLONE_PARENT_SETTID != 0 && c.parentTID != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(pid))
		t.CopyOut(c.parentTID, b[:])
	}
	return uint64(pid), nil
}

// waitFor polls the tree for a child matching the wait4 selector until one
// has news, WNOHANG says not to wait, or a signal interrupts the wait
// (ERESTARTSYS: restarted after a SA_RESTART handler, else EINTR).
func (t *Task) waitFor(pid int32, options int32) (WaitResult, error) {
	th, ok := t.Proc.treeHost()
	if !ok {
		return WaitResult{}, abi.ECHILD
	}
	s := t.Proc.sigHandlers()
	for {
		events := th.ChildEvents()
		var r WaitResult
		var err error
		if !t.Proc.quietWait(events, pid, options) { // sys_proc_quiet.go
			r, err = th.Wait(pid, options)
			if err != nil || r.Pid != 0 {
				t.Proc.forgetQuiet()
			}
		}
		if err != nil || r.Pid != 0 || options&abi.WNOHANG != 0 {
			if err == nil && r.Pid != 0 && r.Code != abi.CLD_STOPPED && r.Code != abi.CLD_CONTINUED &&
				options&abi.WNOWAIT == 0 {
				t.Proc.AddChildUsage(r.Rusage)
			}
			return r, err
		}
		s.mu.Lock()
		if t.hasDeliverableLocked() {
			s.mu.Unlock()
			return WaitResult{}, abi.ERESTARTSYS
		}
		sigs := s.waitChanLocked()
		s.mu.Unlock()
		t.awaitChildEvent(th, events, sigs) // sys_proc_wait_raw.go
	}
}

// Wait4 implements Linux syscall wait4(2).
func Wait4(t *Task, a *Args) (uint64, error) {
	pid, statusAddr, options, ruAddr := a.Int(0), a.Addr(1), a.Int(2), a.Addr(3)
	const valid = abi.WNOHANG | abi.WUNTRACED | abi.WCONTINUED | abi.WNOTHREAD | abi.WALL | abi.WCLONE
	if uint32(options)&^uint32(valid) != 0 {
		return 0, abi.EINVAL
	}
	if pid == -1<<31 {
		return 0, abi.ESRCH // INT_MIN cannot be negated into a group
	}
	r, err := t.waitFor(pid, options|abi.WEXITED)
	if err != nil || r.Pid == 0 {
		return 0, err
	}
	if statusAddr != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], r.Status)
		if _, err := t.CopyOut(statusAddr, b[:]); err != nil {
			return 0, err
		}
	}
	if ruAddr != 0 {
		ru := abi.Rusage{}
		if r.Code != abi.CLD_STOPPED && r.Code != abi.CLD_CONTINUED {
			ru = r.Rusage
		}
		if err := copyOutABI(t, ruAddr, &ru); err != nil {
			return 0, err
		}
	}
	return uint64(r.Pid), nil
}

// Waitid implements Linux syscall waitid(2).
func Waitid(t *Task, a *Args) (uint64, error) {
	idtype, id, infoAddr, options, ruAddr := a.Int(0), a.Int(1), a.Addr(2), a.Int(3), a.Addr(4)
	const valid = abi.WNOHANG | abi.WSTOPPED | abi.WEXITED | abi.WCONTINUED | abi.WNOWAIT |
		abi.WNOTHREAD | abi.WALL | abi.WCLONE
	if uint32(options)&^uint32(valid) != 0 || options&(abi.WEXITED|abi.WSTOPPED|abi.WCONTINUED) == 0 {
		return 0, abi.EINVAL
	}
	var sel int32
	eagain := false
	switch idtype {
	case abi.P_ALL:
		sel = -1
	case abi.P_PID:
		if id <= 0 {
			return 0, abi.EINVAL
		}
		sel = id
	case abi.P_PIDFD:
		pf, nonblock, err := t.pidfdOf(id) // sys_pidfd.go
		if err != nil {
			return 0, err
		}
		if !t.pidfdAlive(&pf) {
			return 0, abi.ECHILD // reaped: its pid may name another child now
		}
		// A PIDFD_NONBLOCK pidfd makes the wait WNOHANG, but with EAGAIN
		// rather than 0 when the child has no news.
		sel, eagain = pf.pid, nonblock && options&abi.WNOHANG == 0
		if eagain {
			options |= abi.WNOHANG
		}
	case abi.P_PGID:
		if id < 0 {
			return 0, abi.EINVAL
		}
		sel = -id // 0: the caller's own group
		if id == 1 {
			// -1 would mean any child: group 1 is the caller's own
			// group or has no child of it (only init leads it).
			if own, err := t.ownPgid(); err != nil || own != 1 {
				return 0, abi.ECHILD
			}
			sel = 0
		}
	default:
		return 0, abi.EINVAL
	}
	r, err := t.waitFor(sel, options)
	if err != nil {
		return 0, err
	}
	if eagain && r.Pid == 0 {
		return 0, abi.EAGAIN
	}
	if infoAddr != 0 {
		var info abi.Siginfo
		if r.Pid != 0 {
			info.Signo = abi.SIGCHLD
			info.Code = r.Code
			info.SetPid(r.Pid)
			info.SetUid(t.Proc.Creds().RUID)
			info.SetStatus(waitidStatus(r))
		}
		var b [abi.SizeofSiginfo]byte
		info.MarshalBytes(b[:])
		if _, err := t.CopyOut(infoAddr, b[:]); err != nil {
			return 0, err
		}
	}
	if ruAddr != 0 {
		ru := r.Rusage
		if err := copyOutABI(t, ruAddr, &ru); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// ownPgid returns the caller's process group.
func (t *Task) ownPgid() (int32, error) {
	r, err := Getpgid(t, &Args{})
	return int32(r), err
}

// waitidStatus is si_status for a wait result: the exit code, or the
// signal that killed, stopped or continued the child.
func waitidStatus(r WaitResult) int32 {
	switch r.Code {
	case abi.CLD_EXITED:
		return int32(r.Status>>8) & 0xff
	case abi.CLD_STOPPED:
		return int32(r.Status>>8) & 0xff
	case abi.CLD_CONTINUED:
		return abi.SIGCONT
	}
	return int32(r.Status & 0x7f)
}
