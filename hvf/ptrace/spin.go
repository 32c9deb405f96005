package ptrace

// Waiting by yielding. What the tracer waits for usually comes within
// microseconds: the stub runs an injected call, takes the SIGURG of a halt,
// or makes its next syscall, and traps. Blocking puts the tracing thread to
// sleep, and the stub's trap then wakes it: the host scheduler is free to
// wake it on another CPU than the stub's, an idle one, and in a virtual
// machine waking an idle vCPU costs ~25 µs (a pipe round trip between two
// processes: 5-7 µs on one CPU, 46-59 µs across two on this host). So the
// tracer first polls (wait4 WNOHANG, or the listener with a zero timeout)
// and yields its CPU in between: the stub, pinned to that CPU
// (affinity.go), runs at once, and the tracer, never asleep, goes on where
// it was. Past spinFor it blocks as before; a stub that computes runs its
// time slice after the first yield and costs the tracer one switch more.
// A stub left free to move (after a long run) may be elsewhere: the tracer
// then polls for at most spinFor.

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// spinFor bounds the yielding part of a wait.
const spinFor = 50 * time.Microsecond

// spinOn says whether waits yield first (ELFUSE_PTRACE_SPIN=0 in elfuse's
// environment turns it off, for comparisons).
var spinOn = os.Getenv("ELFUSE_PTRACE_SPIN") != "0"

// spinWait4 is wait4(pid, ws, __WALL) that yields before it blocks.
func spinWait4(pid int, ws *unix.WaitStatus) error {
	if spinOn {
		got, err := spinWait4NoHang(pid, ws)
		if err != nil || got {
			return err
		}
	}
	return goWait4(pid, ws)
}

// spinWait4NoHang polls for pid's stop with WNOHANG, yielding in between,
// for up to spinFor.
func spinWait4NoHang(pid int, ws *unix.WaitStatus) (bool, error) {
	deadline := time.Now().Add(spinFor)
	for {
		got, err := rawWait4NoHang(pid, ws)
		if err != nil && err != unix.EINTR {
			return false, err
		}
		if got == pid {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		schedYield()
	}
}

// schedYield gives the CPU to another runnable task, if any.
func schedYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
