package kernel

// Sending signals. Signals to the caller itself stay local; others go
// through the supervisor's tree when there is one (sys_proc_kill.go), and
// get ESRCH in a kernel that runs one process alone.

import "github.com/elfuse/elfuse/kernel/abi"

func init() {
	const routeNote = "other pids, groups and -1 go through the supervisor's tree (SIGKILL/SIGSTOP/SIGCONT act on " +
		"the target's host process); stop signals a process sends itself with SIG_DFL are logged and ignored"
	register(map[uint64]Syscall{
		abi.SYS_KILL:              {Name: "kill", Fn: withSignals(Kill), Support: Partial, Note: routeNote},
		abi.SYS_TKILL:             {Name: "tkill", Fn: withSignals(Tkill), Support: Partial, Note: routeNote},
		abi.SYS_TGKILL:            {Name: "tgkill", Fn: withSignals(Tgkill), Support: Partial, Note: routeNote},
		abi.SYS_RT_SIGQUEUEINFO:   {Name: "rt_sigqueueinfo", Fn: withSignals(RtSigqueueinfo), Support: Partial, Note: routeNote},
		abi.SYS_RT_TGSIGQUEUEINFO: {Name: "rt_tgsigqueueinfo", Fn: withSignals(RtTgsigqueueinfo), Support: Partial, Note: routeNote},
	})
}

// Kill implements Linux syscall kill(2). pid is this process, 0 (its
// process group, which only it is known to be in) or -pid of its group.
// pid -1 means every process but init and the caller, so it finds none.
func Kill(t *Task, a *Args) (uint64, error) {
	pid, sig := a.Int(0), int(a.Int(1))
	self := t.Proc.pid()
	if pid != self {
		if ok, err := t.routeSignal(pid, -1, false, t.userInfo(sig, abi.SI_USER)); ok {
			return 0, err
		}
	}
	if pid == -1 || pid != self && pid != 0 && pid != -self {
		return 0, abi.ESRCH
	}
	// Linux finds the target before it validates the signal.
	if sig < 0 || sig > abi.NSIG {
		return 0, abi.EINVAL
	}
	if sig == 0 {
		return 0, nil
	}
	return 0, t.Proc.queueShared(t, t.userInfo(sig, abi.SI_USER))
}

// Tkill implements Linux syscall tkill(2).
func Tkill(t *Task, a *Args) (uint64, error) {
	return 0, t.tgkill(-1, a.Int(0), int(a.Int(1)))
}

// Tgkill implements Linux syscall tgkill(2).
func Tgkill(t *Task, a *Args) (uint64, error) {
	tgid := a.Int(0)
	if tgid <= 0 {
		return 0, abi.EINVAL
	}
	return 0, t.tgkill(tgid, a.Int(1), int(a.Int(2)))
}

// tgkill sends sig to thread tid of thread group tgid (-1: any group).
func (t *Task) tgkill(tgid, tid int32, sig int) error {
	if tid <= 0 {
		return abi.EINVAL
	}
	if other := t.Proc.taskByTid(tid); other != nil && other != t && (tgid == -1 || tgid == t.Proc.pid()) {
		return other.signalThread(sig, t.userInfo(sig, abi.SI_TKILL)) // thread.go
	}
	if tid != t.Tid {
		if ok, err := t.routeSignal(tid, tgid, true, t.userInfo(sig, abi.SI_TKILL)); ok {
			return err
		}
	}
	if tid != t.Tid || tgid != -1 && tgid != t.Proc.pid() {
		return abi.ESRCH
	}
	if sig < 0 || sig > abi.NSIG {
		return abi.EINVAL
	}
	if sig == 0 {
		return nil
	}
	return t.queueSignal(t.userInfo(sig, abi.SI_TKILL), false)
}

// copyInSiginfo reads a user-supplied siginfo for rt_(tg)sigqueueinfo and
// applies Linux's rule: a process may not forge kernel or kill()/tkill()
// origins when signalling another process.
func (t *Task) copyInSiginfo(addr abi.Addr, sig int, target int32) (*abi.Siginfo, error) {
	var b [abi.SizeofSiginfo]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return nil, err
	}
	info := new(abi.Siginfo)
	info.UnmarshalBytes(b[:])
	if (info.Code >= 0 || info.Code == abi.SI_TKILL) && target != t.Proc.pid() {
		return nil, abi.EPERM
	}
	info.Signo = int32(sig)
	return info, nil
}

// RtSigqueueinfo implements Linux syscall rt_sigqueueinfo(2).
func RtSigqueueinfo(t *Task, a *Args) (uint64, error) {
	pid, sig := a.Int(0), int(a.Int(1))
	info, err := t.copyInSiginfo(a.Addr(2), sig, pid)
	if err != nil {
		return 0, err
	}
	if pid != t.Proc.pid() {
		if ok, err := t.routeSignal(pid, -1, false, info); ok {
			return 0, err
		}
		return 0, abi.ESRCH
	}
	if sig < 0 || sig > abi.NSIG {
		return 0, abi.EINVAL
	}
	if sig == 0 {
		return 0, nil
	}
	return 0, t.Proc.queueShared(t, info)
}

// RtTgsigqueueinfo implements Linux syscall rt_tgsigqueueinfo(2).
func RtTgsigqueueinfo(t *Task, a *Args) (uint64, error) {
	tgid, tid, sig := a.Int(0), a.Int(1), int(a.Int(2))
	if tgid <= 0 || tid <= 0 {
		return 0, abi.EINVAL
	}
	info, err := t.copyInSiginfo(a.Addr(3), sig, tgid)
	if err != nil {
		return 0, err
	}
	if other := t.Proc.taskByTid(tid); other != nil && other != t && tgid == t.Proc.pid() {
		return 0, other.signalThread(sig, info) // thread.go
	}
	if tgid != t.Proc.pid() || tid != t.Tid {
		if ok, err := t.routeSignal(tid, tgid, true, info); ok {
			return 0, err
		}
		return 0, abi.ESRCH
	}
	if sig < 0 || sig > abi.NSIG {
		return 0, abi.EINVAL
	}
	if sig == 0 {
		return 0, nil
	}
	return 0, t.queueSignal(info, false)
}
