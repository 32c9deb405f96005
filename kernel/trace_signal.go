package kernel

import (
	"strconv"

	"github.com/elfuse/elfuse/kernel/abi"
)

// traceSignal writes strace's "--- SIGCHLD {si_signo=...} ---" line for a
// signal dequeued for delivery (whatever its action, as strace sees it).
func (t *Task) traceSignal(info *abi.Siginfo) {
	tr := t.tracer()
	if tr == nil {
		return
	}
	line := append(linePrefix(make([]byte, 0, 160), t.tracePid()), "--- "...)
	line = appendSignal(line, int(info.Signo))
	line = appendSiginfo(append(line, ' '), info)
	tr.emit(append(line, " ---\n"...))
}

// siCodeNames names the si_code values every signal may carry.
var siCodeNames = map[int32]string{0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER",
	-3: "SI_MESGQ", -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}

// cldCodeNames names SIGCHLD's si_code values.
var cldCodeNames = map[int32]string{1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED",
	4: "CLD_TRAPPED", 5: "CLD_STOPPED", 6: "CLD_CONTINUED"}

// faultCodeNames names the si_code values of the fault signals.
var faultCodeNames = map[int32]map[int32]string{
	abi.SIGSEGV: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"},
	abi.SIGBUS:  {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR"},
	abi.SIGILL: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP",
		5: "ILL_PRVOPC", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
	abi.SIGFPE: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF",
		5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
}

// appendSiginfo appends a siginfo as strace does for the codes it knows;
// for others only si_signo and the numeric si_code, never a guessed field.
func appendSiginfo(dst []byte, info *abi.Siginfo) []byte {
	dst = appendSignal(append(dst, "{si_signo="...), int(info.Signo))
	dst = append(dst, ", si_code="...)
	code := info.Code
	sender := func(dst []byte) []byte {
		dst = strconv.AppendInt(append(dst, ", si_pid="...), int64(info.Pid()), 10)
		return strconv.AppendUint(append(dst, ", si_uid="...), uint64(info.Uid()), 10)
	}
	if n, ok := siCodeNames[code]; ok {
		dst = append(dst, n...)
		switch code {
		case 0, -6:
			dst = sender(dst)
		case -1:
			dst = sender(dst)
			dst = strconv.AppendInt(append(dst, ", si_int="...), int64(int32(info.Value())), 10)
			dst = appendPtr(append(dst, ", si_ptr="...), info.Value())
		case 0x80:
			if faultCodeNames[info.Signo] != nil {
				dst = appendPtr(append(dst, ", si_addr="...), uint64(info.Addr()))
			}
		}
		return append(dst, '}')
	}
	if info.Signo == abi.SIGCHLD {
		if n, ok := cldCodeNames[code]; ok {
			dst = sender(append(dst, n...))
			dst = append(dst, ", si_status="...)
			if code == 1 {
				dst = strconv.AppendInt(dst, int64(info.Status()), 10)
			} else {
				dst = appendSignal(dst, int(info.Status()))
			}
			dst = appendClock(append(dst, ", si_utime="...), info.Utime())
			dst = appendClock(append(dst, ", si_stime="...), info.Stime())
			return append(dst, '}')
		}
	}
	if names := faultCodeNames[info.Signo]; names != nil {
		if n, ok := names[code]; ok {
			dst = append(dst, n...)
			dst = appendPtr(append(dst, ", si_addr="...), uint64(info.Addr()))
			return append(dst, '}')
		}
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	return append(dst, '}')
}

// appendClock appends a clock_t in ticks with strace's seconds comment.
func appendClock(dst []byte, ticks int64) []byte {
	dst = strconv.AppendInt(dst, ticks, 10)
	if ticks == 0 {
		return dst
	}
	const hz = 100
	dst = strconv.AppendInt(append(dst, " /* "...), ticks/hz, 10)
	frac := ticks % hz
	dst = append(dst, '.', byte('0'+frac/10), byte('0'+frac%10))
	return append(dst, " s */"...)
}
