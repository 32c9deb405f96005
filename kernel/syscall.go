package kernel

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Args are the six raw syscall arguments (rdi, rsi, rdx, r10, r8, r9).
type Args [6]uint64

// Int returns argument i as a C int.
func (a *Args) Int(i int) int32 { return int32(a[i]) }

// Uint returns argument i as a C unsigned int.
func (a *Args) Uint(i int) uint32 { return uint32(a[i]) }

// Addr returns argument i as a guest address.
func (a *Args) Addr(i int) abi.Addr { return abi.Addr(a[i]) }

// SyscallFn serves one syscall. It returns the value for rax, or an error:
// an abi.Errno (or a host unix.Errno, converted at the boundary) becomes
// -errno; ErrNoReturn means the handler has set every register itself
// (rt_sigreturn, execve).
type SyscallFn func(t *Task, a *Args) (uint64, error)

// Support says how completely a syscall is implemented.
type Support int

// Support levels.
const (
	Full Support = iota
	Partial
	Stub // accepted, does nothing observable (documented in Note)
)

// Syscall is one entry of the table.
type Syscall struct {
	Name    string
	Fn      SyscallFn
	Support Support
	Note    string
}

// ErrNoReturn tells the dispatcher not to write rax.
var ErrNoReturn = errors.New("handler set registers")

// table maps Linux x86-64 syscall numbers to handlers. Files named sys_*.go
// add their entries from init functions through register.
var table = map[uint64]Syscall{}

// maxDense bounds the syscall numbers served from dense, the array the
// dispatcher indexes instead of hashing into table on every exit. x86-64
// numbers stop at 462 today; anything at or above maxDense (x32 numbers,
// garbage) is looked up in table.
const maxDense = 1024

// dense mirrors table for numbers below maxDense; a nil Fn is a miss.
var dense [maxDense]Syscall

// register adds entries to the table; duplicate numbers are a programming
// error and panic at start-up.
func register(entries map[uint64]Syscall) {
	for nr, s := range entries {
		if _, dup := table[nr]; dup {
			panic("kernel: syscall registered twice: " + s.Name)
		}
		table[nr] = s
		if nr < maxDense {
			dense[nr] = s
		}
	}
}

// lookup returns the table entry for nr.
func lookup(nr uint64) (*Syscall, bool) {
	if nr < maxDense {
		s := &dense[nr]
		return s, s.Fn != nil
	}
	s, ok := table[nr]
	return &s, ok
}

// Table returns a copy of the syscall table (for tests and --help output).
func Table() map[uint64]Syscall {
	out := make(map[uint64]Syscall, len(table))
	for k, v := range table {
		out[k] = v
	}
	return out
}

// unknownSeen has a bit per number below maxDense already logged as
// unimplemented; unknownLogged holds the larger ones. The bitmap keeps the
// ENOSYS path free of allocations (a sync.Map key is boxed).
var (
	unknownSeen   [maxDense / 64]atomic.Uint64
	unknownLogged sync.Map // syscall number → struct{}
)

// firstUnknown reports whether nr is reported as unimplemented for the
// first time.
func firstUnknown(nr uint64) bool {
	if nr < maxDense {
		w, bit := &unknownSeen[nr/64], uint64(1)<<(nr%64)
		if w.Load()&bit != 0 {
			return false
		}
		return w.Or(bit)&bit == 0
	}
	_, seen := unknownLogged.LoadOrStore(nr, struct{}{})
	return !seen
}

// toErrno converts a handler error to a Linux errno. This is the single
// errno boundary between host and guest.
func toErrno(err error) abi.Errno {
	var e abi.Errno
	if errors.As(err, &e) {
		return e
	}
	var he unix.Errno
	if errors.As(err, &he) {
		return abi.Errno(he)
	}
	return abi.EIO
}

// Syscall serves the syscall the task's vCPU just exited with.
func (t *Task) Syscall() {
	regs := t.CPU.Regs()
	nr := regs.RAX
	args := &t.args
	*args = Args{regs.RDI, regs.RSI, regs.RDX, regs.R10, regs.R8, regs.R9}
	t.OrigRAX = nr
	if t.creds.seen != t.Proc.credGen.Load()+1 {
		t.syncCreds() // creds_thread.go: the process's changed
	}

	s, ok := lookup(nr)
	if !ok {
		if firstUnknown(nr) {
			t.Log.Info("unimplemented syscall, returning ENOSYS", "nr", nr, "name", abi.SyscallName(nr))
		}
		regs.RAX = negErrno(abi.ENOSYS)
		if t.tracing() {
			t.traceEnd(nr, nil, args, 0, abi.ENOSYS, TraceNow())
		}
		return
	}
	// Tracing costs one predictable branch each side when off (trace.go).
	var pre []byte
	var t0 int64
	tracing := t.tracing() // --trace or --trace-out (traceout_task.go)
	if tracing {
		pre, t0 = t.traceBegin(nr, args)
	}
	// The syscall clock (for dumps) is reset without a defer (a defer per
	// exit shows in profiles); a handler that panics takes the guestproc
	// down anyway.
	t.sys.enter(nr)
	ret, err := s.Fn(t, args)
	t.sys.leave()
	if tracing {
		t.traceEnd(nr, pre, args, ret, err, t0)
	}
	if t.Log.IsTrace() {
		t.Log.Trace("syscall", "name", s.Name, "args", *args, "ret", ret, "err", err)
	}
	switch {
	case err == nil:
		regs.RAX = ret
	case err == ErrNoReturn || errors.Is(err, ErrNoReturn):
	default:
		regs.RAX = negErrno(toErrno(err))
	}
}

// negErrno encodes e the way Linux returns it in rax.
func negErrno(e abi.Errno) uint64 { return -uint64(e) }
