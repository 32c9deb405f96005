package kernel

// RLIMIT_CPU: once the process has used its soft limit of CPU seconds it
// gets SIGXCPU, and again after every further second (Linux raises the
// soft limit by one second each time, up to the hard one); at the hard
// limit it is killed with SIGKILL. The host cannot carry the limit (the
// guestproc's own CPU and, on hvf/ptrace, the stub's would not add up), so
// a goroutine watches the process's own CPU time (cpu_usage.go) while a
// finite limit is set. It sleeps for the CPU time left divided by the
// host's CPUs: no process can use CPU time faster.

import (
	"runtime"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// cpuWatchMin and cpuWatchMax bound the sleep between two looks (the
// longest: how long a watcher outlives its process).
const (
	cpuWatchMin = 10 * time.Millisecond
	cpuWatchMax = time.Second
)

// syncCPULimit starts a watcher for the current RLIMIT_CPU (and so stops
// the one before); none when the soft limit is infinite or the host
// cannot tell the process's CPU time.
func (p *Process) syncCPULimit() {
	x := p.ext()
	x.mu.Lock()
	x.cpuGen++
	gen := x.cpuGen
	soft := x.st.Rlimits[abi.RLIMIT_CPU].Cur
	x.mu.Unlock()
	if soft == abi.RLIM_INFINITY || p.Kernel == nil || p.Kernel.Host == nil {
		return
	}
	u, ok := p.Kernel.Host.(UsageHost)
	if !ok {
		return
	}
	go p.watchCPU(gen, u)
}

// cpuSeconds is a limit in CPU seconds as a duration (infinite: the most).
func cpuSeconds(v uint64) time.Duration {
	if v >= uint64(1<<63-1)/uint64(time.Second) {
		return 1<<63 - 1
	}
	return time.Duration(v) * time.Second
}

// watchCPU is the watcher of generation gen.
func (p *Process) watchCPU(gen uint64, u UsageHost) {
	x := p.ext()
	for {
		if exited, _ := p.Exited(); exited {
			return
		}
		used, ok := u.SelfCPU()
		if !ok {
			return
		}
		x.mu.Lock()
		if x.cpuGen != gen {
			x.mu.Unlock()
			return
		}
		lim := &x.st.Rlimits[abi.RLIMIT_CPU]
		soft, hard := cpuSeconds(lim.Cur), cpuSeconds(lim.Max)
		var sig int
		switch {
		case used >= hard:
			sig = abi.SIGKILL
		case used >= soft:
			sig = abi.SIGXCPU
			if lim.Cur < lim.Max {
				lim.Cur++
				soft += time.Second
			}
		}
		x.mu.Unlock()
		if sig != 0 {
			p.KillInfo(&abi.Siginfo{Signo: int32(sig), Code: abi.SI_KERNEL})
			if sig == abi.SIGKILL {
				return
			}
		}
		left := min(soft, hard) - used
		sleepForCPU(left, cpuWatchMin)
	}
}

// sleepForCPU sleeps until the process could have used left more CPU time
// (left over the host's CPUs), at least floor and at most cpuWatchMax: the
// pace of every CPU-time watcher (RLIMIT_CPU, ITIMER_VIRTUAL/PROF, POSIX
// CPU-time timers).
func sleepForCPU(left, floor time.Duration) {
	time.Sleep(min(max(left/time.Duration(runtime.NumCPU()), floor), cpuWatchMax))
}
