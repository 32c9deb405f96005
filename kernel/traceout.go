package kernel

import (
	"io"
	"strconv"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// TraceOut writes the --trace-out timeline: Chrome trace events
// (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU),
// one JSON object per line ending in ",\n" so that the supervisor's
// opening `{"traceEvents":[` and closing `]}` make the file one JSON
// value. Each event is one Write, so the events of every task and every
// guestproc sharing the descriptor never interleave.
//
// Times are CLOCK_MONOTONIC in microseconds (with nanosecond decimals):
// one clock for every process of the host, so the tracks line up.
type TraceOut struct {
	w     io.Writer
	minNs int64
}

// NewTraceOut returns a timeline writer to w that drops the syscall
// events shorter than minUs microseconds (0: none dropped). Process,
// exec, fork and signal events are never dropped.
func NewTraceOut(w io.Writer, minUs int64) *TraceOut {
	return &TraceOut{w: w, minNs: minUs * 1000}
}

// TraceNow is the timeline's clock: CLOCK_MONOTONIC in nanoseconds.
func TraceNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// traceEvent builds one event in a single buffer.
type traceEvent struct{ b []byte }

// newEvent starts an event of phase ph on the track of guest pid/tid at
// time ts (nanoseconds; negative: no timestamp, as for metadata).
func newEvent(ph byte, name string, pid, tid int32, ts int64) *traceEvent {
	e := &traceEvent{b: make([]byte, 0, 256)}
	e.b = append(e.b, `{"ph":"`...)
	e.b = append(e.b, ph)
	e.b = append(e.b, `","name":`...)
	e.b = appendJSONString(e.b, name)
	e.b = strconv.AppendInt(append(e.b, `,"pid":`...), int64(pid), 10)
	e.b = strconv.AppendInt(append(e.b, `,"tid":`...), int64(tid), 10)
	if ts >= 0 {
		e.b = appendMicros(append(e.b, `,"ts":`...), ts)
	}
	return e
}

// field appends `,"key":` followed by raw JSON v.
func (e *traceEvent) raw(key, v string) *traceEvent {
	e.b = append(append(append(e.b, `,"`...), key...), `":`...)
	e.b = append(e.b, v...)
	return e
}

// dur appends the duration of a complete event.
func (e *traceEvent) dur(ns int64) *traceEvent {
	e.b = appendMicros(append(e.b, `,"dur":`...), ns)
	return e
}

// id appends a flow id.
func (e *traceEvent) id(id uint64) *traceEvent {
	e.b = strconv.AppendUint(append(e.b, `,"id":`...), id, 10)
	return e
}

// args appends the args object from key/value string pairs.
func (e *traceEvent) args(kv ...string) *traceEvent {
	e.b = append(e.b, `,"args":{`...)
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(appendJSONString(e.b, kv[i]), ':')
		e.b = appendJSONString(e.b, kv[i+1])
	}
	e.b = append(e.b, '}')
	return e
}

// emit closes the event and writes it with one Write.
func (o *TraceOut) emit(e *traceEvent) {
	o.w.Write(append(e.b, "},\n"...)) // a timeline that cannot be written is not the guest's problem
}

// appendMicros appends ns nanoseconds as microseconds with three decimals.
func appendMicros(dst []byte, ns int64) []byte {
	if ns < 0 {
		dst, ns = append(dst, '-'), -ns
	}
	dst = strconv.AppendInt(dst, ns/1000, 10)
	frac := ns % 1000
	if frac == 0 {
		return dst
	}
	dst = append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return dst
}

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD, so the file stays valid for any JSON reader.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// appendJSONStrings appends ss as a JSON array of strings.
func appendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// Syscall writes the complete event of one syscall of guest thread tid of
// process pid, unless it is shorter than the threshold and not kept.
func (o *TraceOut) Syscall(pid, tid int32, name string, start, end int64, args, ret string, keep bool) {
	if !keep && end-start < o.minNs {
		return
	}
	o.emit(newEvent('X', name, pid, tid, start).dur(end-start).raw("cat", `"syscall"`).args("args", args, "ret", ret))
}

// ProcessName names the track of process pid (at start and at exec).
func (o *TraceOut) ProcessName(pid int32, name string) {
	o.emit(newEvent('M', "process_name", pid, pid, -1).args("name", name))
}

// ThreadName names the track of thread tid of process pid.
func (o *TraceOut) ThreadName(pid, tid int32, name string) {
	o.emit(newEvent('M', "thread_name", pid, tid, -1).args("name", name))
}

// Exec writes the instant event of a successful execve with the new image.
func (o *TraceOut) Exec(pid, tid int32, ts int64, exe string, argv []string) {
	e := newEvent('i', "exec", pid, tid, ts).raw("cat", `"process"`).raw("s", `"p"`)
	e.b = append(appendJSONString(append(e.b, `,"args":{"exe":`...), exe), `,"argv":`...)
	e.b = append(appendJSONStrings(e.b, argv), '}')
	o.emit(e)
}

// Signal writes the instant event of a signal dequeued for delivery to tid.
func (o *TraceOut) Signal(pid, tid int32, ts int64, sig string, info string) {
	o.emit(newEvent('i', "signal "+sig, pid, tid, ts).raw("cat", `"signal"`).raw("s", `"t"`).args("siginfo", info))
}

// FlowID is the id of the flow from a parent's fork/clone to its child:
// both ends can compute it.
func FlowID(parent, child int32) uint64 { return uint64(parent)<<22 | uint64(child) }

// ForkFlow writes the start of the flow from the fork/clone syscall of
// parent thread tid (the event binds to that syscall's slice) to child.
func (o *TraceOut) ForkFlow(pid, tid int32, ts int64, child int32) {
	o.emit(newEvent('s', "fork", pid, tid, ts).raw("cat", `"fork"`).id(FlowID(pid, child)))
}

// ChildFlow writes the end of the flow from parent to the child process
// or thread pid/tid, binding to the slice that encloses ts (the child's
// life) or, for a thread, to its next slice.
func (o *TraceOut) ChildFlow(parent, pid, tid int32, ts int64, enclosing bool) {
	e := newEvent('f', "fork", pid, tid, ts).raw("cat", `"fork"`).id(FlowID(parent, tid))
	if enclosing {
		e.raw("bp", `"e"`)
	}
	o.emit(e)
}

// Life writes the complete event of a process's life, from start to its
// end with wait status status.
func (o *TraceOut) Life(pid int32, name string, start, end int64, status uint32) {
	o.emit(newEvent('X', name, pid, pid, start).dur(end-start).raw("cat", `"process"`).
		args("status", string(appendWaitStatus(nil, status)), "wait_status", strconv.FormatUint(uint64(status), 10)))
}

// appendWaitStatus appends "exited with N" or "killed by SIG".
func appendWaitStatus(dst []byte, status uint32) []byte {
	if sig := status & 0x7f; sig != 0 {
		dst = appendSignal(append(dst, "killed by "...), int(sig))
		if status&0x80 != 0 {
			dst = append(dst, " (core dumped)"...)
		}
		return dst
	}
	return strconv.AppendUint(append(dst, "exited with "...), uint64(status>>8&0xff), 10)
}
