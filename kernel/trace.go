package kernel

import (
	"errors"
	"github.com/elfuse/elfuse/kernel/abi"
	"io"
	"strconv"
)

// Tracer writes one strace-like line per syscall (elfuse --trace). It is
// shared by the tasks of a process; each line is one Write, so lines of
// concurrent tasks and processes writing to the same descriptor never
// interleave.
//
// A syscall's line is built when it completes (no "<unfinished ...>"
// split): arguments are decoded after the handler ran, except for the
// syscalls whose table entry says pre (execve, whose strings are gone once
// the new image is in place), which are decoded on entry.
type Tracer struct {
	w io.Writer
}

// NewTracer returns a tracer writing to w.
func NewTracer(w io.Writer) *Tracer { return &Tracer{w: w} }

// Printf-free on purpose: a traced program makes thousands of calls, and a
// line is built in one buffer and written once.
func (tr *Tracer) emit(line []byte) {
	tr.w.Write(line) // a trace that cannot be written is not the guest's problem
}

// tracer returns the task's tracer, nil when tracing is off (or the task
// belongs to no kernel, as in unit tests).
func (t *Task) tracer() *Tracer {
	if k := t.Proc.Kernel; k != nil {
		return k.Trace
	}
	return nil
}

// linePrefix starts a line: "[pid N] ".
func linePrefix(dst []byte, pid int32) []byte {
	dst = append(dst, "[pid "...)
	dst = strconv.AppendInt(dst, int64(pid), 10)
	return append(dst, "] "...)
}

// tracePid is the pid shown for the task: its thread id, as strace -f does.
func (t *Task) tracePid() int32 {
	if t.Tid != 0 {
		return t.Tid
	}
	return t.Proc.Kernel.Host.Pid()
}

// traceEnter is called before the handler when tracing; it returns the
// decoded arguments for the syscalls decoded on entry, else nil.
func (t *Task) traceEnter(nr uint64, a *Args) []byte {
	spec := traceSpecs[nr]
	if spec == nil || !spec.pre {
		return nil
	}
	return t.appendArgs(make([]byte, 0, 128), nr, spec, a, 0, false)
}

// traceLeave writes the line of a completed syscall. pre holds the
// arguments decoded by traceEnter, if any.
func (t *Task) traceLeave(nr uint64, pre []byte, a *Args, ret uint64, err error) {
	tr := t.tracer()
	if tr == nil {
		return
	}
	var failed bool
	var errno uint64
	noReturn := err != nil && errors.Is(err, ErrNoReturn)
	switch {
	case err == nil:
	case noReturn:
		// The handler set the registers itself (execve, rt_sigreturn,
		// exit): what rax now holds is what the guest sees, an error
		// included (rt_sigreturn back into an interrupted call).
		ret = t.CPU.Regs().RAX
		if r := int64(ret); r < 0 && r >= -4095 {
			failed, errno = true, uint64(-r)
		}
	default:
		failed, errno = true, uint64(toErrno(err))
	}
	spec := traceSpecs[nr]
	line := linePrefix(make([]byte, 0, 160), t.tracePid())
	line = appendSyscallName(line, nr)
	line = append(line, '(')
	if pre != nil {
		line = append(line, pre...)
	} else {
		line = t.appendArgs(line, nr, spec, a, ret, failed)
	}
	line = append(line, ") = "...)
	switch {
	case spec != nil && spec.ret == retNone && !failed:
		line = append(line, '?')
	case failed:
		line = appendErrno(line, errno)
	case spec != nil && spec.retFmt != nil:
		line = spec.retFmt(line, a, ret)
	case spec != nil && spec.ret == retHex:
		line = appendHex(line, ret)
	default:
		line = strconv.AppendInt(line, int64(ret), 10)
	}
	tr.emit(append(line, '\n'))
}

// appendSyscallName appends the syscall's Linux name, or strace's
// syscall_0xNR for a number without one.
func appendSyscallName(dst []byte, nr uint64) []byte {
	if s, ok := abi.SyscallNames[nr]; ok {
		return append(dst, s...)
	}
	return appendHex(append(dst, "syscall_"...), nr)
}

// TraceExit writes the "+++ exited with N +++" or "+++ killed by SIG +++"
// line of a process that ended with wait status status.
func (tr *Tracer) TraceExit(pid int32, status uint32) {
	line := linePrefix(make([]byte, 0, 64), pid)
	switch sig := status & 0x7f; {
	case sig == 0:
		line = strconv.AppendUint(append(line, "+++ exited with "...), uint64(status>>8&0xff), 10)
	default:
		line = appendSignal(append(line, "+++ killed by "...), int(sig))
		if status&0x80 != 0 {
			line = append(line, " (core dumped)"...)
		}
	}
	tr.emit(append(line, " +++\n"...))
}
