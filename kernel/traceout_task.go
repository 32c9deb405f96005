package kernel

import (
	"errors"
	"strconv"

	"github.com/elfuse/elfuse/kernel/abi"
)

// traceOut returns the task's timeline writer, nil when --trace-out is off
// (or the task belongs to no kernel, as in unit tests).
func (t *Task) traceOut() *TraceOut {
	if k := t.Proc.Kernel; k != nil {
		return k.TraceOut
	}
	return nil
}

// tracing reports whether any syscall tracing (--trace, --trace-out) is
// on: Task.Syscall's one branch each side of the handler.
func (t *Task) tracing() bool {
	k := t.Proc.Kernel
	return k != nil && (k.Trace != nil || k.TraceOut != nil)
}

// traceBegin is called before the handler when tracing: it decodes the
// arguments of the syscalls decoded on entry and notes the start time.
func (t *Task) traceBegin(nr uint64, a *Args) (pre []byte, start int64) {
	pre = t.traceEnter(nr, a)
	if t.traceOut() != nil {
		start = TraceNow()
	}
	return pre, start
}

// traceEnd is called after the handler when tracing.
func (t *Task) traceEnd(nr uint64, pre []byte, a *Args, ret uint64, err error, start int64) {
	if t.tracer() != nil {
		t.traceLeave(nr, pre, a, ret, err)
	}
	if o := t.traceOut(); o != nil {
		t.traceOutLeave(o, nr, pre, a, ret, err, start)
	}
}

// tracePids returns the guest pid and tid of the task's track.
func (t *Task) tracePids() (pid, tid int32) {
	pid = t.Proc.Kernel.Host.Pid()
	tid = t.Tid
	if tid == 0 {
		tid = pid
	}
	return pid, tid
}

// traceOutLeave writes the events of a completed syscall: its slice, and
// for a successful exec, fork or clone the exec instant or the flow to the
// child.
func (t *Task) traceOutLeave(o *TraceOut, nr uint64, pre []byte, a *Args, ret uint64, err error, start int64) {
	end := TraceNow()
	failed, errno := false, uint64(0)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoReturn):
		ret = t.CPU.Regs().RAX
		if r := int64(ret); r < 0 && r >= -4095 {
			failed, errno = true, uint64(-r)
		}
	default:
		failed, errno = true, uint64(toErrno(err))
	}
	pid, tid := t.tracePids()
	keep := false
	switch nr {
	case abi.SYS_EXECVE, abi.SYS_EXECVEAT, abi.SYS_FORK, abi.SYS_VFORK, abi.SYS_CLONE, abi.SYS_CLONE3:
		keep = !failed
	}
	if keep || end-start >= o.minNs {
		spec := traceSpecs[nr]
		var args []byte
		if pre != nil {
			args = pre
		} else {
			args = t.appendArgs(make([]byte, 0, 128), nr, spec, a, ret, failed)
		}
		var r []byte
		switch {
		case failed:
			r = appendErrno(nil, errno)
		case spec != nil && spec.ret == retNone:
			r = []byte{'?'}
		case spec != nil && spec.retFmt != nil:
			r = spec.retFmt(nil, a, ret)
		case spec != nil && spec.ret == retHex:
			r = appendHex(nil, ret)
		default:
			r = strconv.AppendInt(nil, int64(ret), 10)
		}
		o.Syscall(pid, tid, string(appendSyscallName(nil, nr)), start, end, string(args), string(r), keep)
	}
	if !keep {
		return
	}
	switch nr {
	case abi.SYS_EXECVE, abi.SYS_EXECVEAT:
		p := t.Proc
		o.Exec(pid, tid, end, p.Exe, p.Argv)
		name := p.Exe
		if len(p.Argv) > 0 {
			name = p.Argv[0]
		}
		o.ProcessName(pid, name)
		o.ThreadName(pid, tid, name)
	default:
		child := int32(ret)
		if child <= 0 {
			return // the child's side of a clone that returns 0 here
		}
		// The flow starts at the beginning of the syscall (inside its slice,
		// which it binds to): before the child can start.
		o.ForkFlow(pid, tid, start+1, child)
		if t.clonedThread(nr, a) {
			o.ThreadName(pid, child, threadName(t.Proc))
			o.ChildFlow(pid, pid, child, end, false)
		}
	}
}

// clonedThread reports whether a clone or clone3 made a thread.
func (t *Task) clonedThread(nr uint64, a *Args) bool {
	switch nr {
	case abi.SYS_CLONE:
		return a[0]&abi.CLONE_THREAD != 0
	case abi.SYS_CLONE3:
		var b [8]byte
		if _, err := t.Proc.Mem.CopyIn(abi.Addr(a[0]), b[:]); err != nil {
			return false
		}
		flags := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		return flags&abi.CLONE_THREAD != 0
	}
	return false
}

// threadName names a thread after its process's argv[0].
func threadName(p *Process) string {
	if len(p.Argv) > 0 {
		return p.Argv[0]
	}
	return p.Exe
}

// traceOutSignal writes the instant event of a signal dequeued for
// delivery to the task.
func (t *Task) traceOutSignal(info *abi.Siginfo) {
	o := t.traceOut()
	if o == nil {
		return
	}
	pid, tid := t.tracePids()
	o.Signal(pid, tid, TraceNow(), string(appendSignal(nil, int(info.Signo))), string(appendSiginfo(nil, info)))
}

// TraceOutStart writes the name metadata of a process whose life starts
// in this guestproc (pid 1, a fork child, a thread-less exec'd image), and
// for a fork child the end of the flow from its parent, bound to the
// child's life slice starting at start.
func (k *Kernel) TraceOutStart(p *Process, pid, ppid int32, start int64, forked bool) {
	o := k.TraceOut
	if o == nil {
		return
	}
	name := threadName(p)
	o.ProcessName(pid, name)
	o.ThreadName(pid, pid, name)
	if forked {
		o.ChildFlow(ppid, pid, pid, start+1, true)
	}
}

// TraceOutExit writes the life slice of process pid that started at start
// and ended with wait status status.
func (k *Kernel) TraceOutExit(p *Process, pid int32, start int64, status uint32) {
	if o := k.TraceOut; o != nil {
		o.Life(pid, "process "+threadName(p), start, TraceNow(), status)
	}
}
