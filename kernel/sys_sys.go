package kernel

import (
	"math"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// System information, randomness, resource usage and priorities. Native
// execution is the oracle, so these report what the host reports to a native
// program: uname, sysinfo and getrandom are the host's.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_UNAME:     {Name: "uname", Fn: Uname},
		abi.SYS_SYSINFO:   {Name: "sysinfo", Fn: SysinfoCall},
		abi.SYS_GETRANDOM: {Name: "getrandom", Fn: Getrandom},
		abi.SYS_PERSONALITY: {Name: "personality", Fn: Personality, Support: Partial,
			Note: "stored and reported; flags such as ADDR_NO_RANDOMIZE do not change the layout"},
		abi.SYS_TIMES: {Name: "times", Fn: Times, Support: Partial,
			Note: "own usage is the guestproc's host usage; children's usage is what wait added"},
		abi.SYS_GETRUSAGE: {Name: "getrusage", Fn: Getrusage, Support: Partial,
			Note: "RUSAGE_SELF/THREAD are the guestproc's host usage (Go runtime included); RUSAGE_CHILDREN is what wait added"},
		abi.SYS_GETPRIORITY: {Name: "getpriority", Fn: Getpriority, Support: Partial,
			Note: "any guest process by pid (its vCPU host thread); only the own group or user"},
		abi.SYS_SETPRIORITY: {Name: "setpriority", Fn: Setpriority, Support: Partial,
			Note: "applied to the target's vCPU host thread; only the own group or user"},
	})
}

// Uname implements Linux syscall uname(2).
func Uname(t *Task, a *Args) (uint64, error) {
	var hu unix.Utsname
	if err := unix.Uname(&hu); err != nil {
		return 0, err
	}
	u := abi.Utsname{
		Sysname: hu.Sysname, Nodename: hu.Nodename, Release: hu.Release,
		Version: hu.Version, Machine: hu.Machine, Domainname: hu.Domainname,
	}
	return 0, copyOutABI(t, a.Addr(0), &u)
}

// SysinfoCall implements Linux syscall sysinfo(2).
func SysinfoCall(t *Task, a *Args) (uint64, error) {
	var hi unix.Sysinfo_t
	if err := unix.Sysinfo(&hi); err != nil {
		return 0, err
	}
	si := abi.Sysinfo{
		Uptime: hi.Uptime, Loads: hi.Loads, Totalram: hi.Totalram, Freeram: hi.Freeram,
		Sharedram: hi.Sharedram, Bufferram: hi.Bufferram, Totalswap: hi.Totalswap,
		Freeswap: hi.Freeswap, Procs: hi.Procs, Totalhigh: hi.Totalhigh,
		Freehigh: hi.Freehigh, MemUnit: hi.Unit,
	}
	return 0, copyOutABI(t, a.Addr(0), &si)
}

// getrandom(2) flags.
const (
	grndNonblock = 1
	grndRandom   = 2
	grndInsecure = 4
)

// Getrandom implements Linux syscall getrandom(2). The bytes come from the
// host's getrandom, written straight into guest memory when the whole buffer
// is mapped writable; otherwise as much as can be written is, as Linux does.
func Getrandom(t *Task, a *Args) (uint64, error) {
	buf, count, flags := a.Addr(0), a[1], a.Uint(2)
	if flags&^(grndNonblock|grndRandom|grndInsecure) != 0 ||
		flags&(grndRandom|grndInsecure) == grndRandom|grndInsecure {
		return 0, abi.EINVAL
	}
	count = min(count, math.MaxInt32)
	if count == 0 {
		return 0, nil
	}
	if dst, err := t.Slice(buf, int(count), true); err == nil {
		n, err := unix.Getrandom(dst, int(flags))
		if err != nil {
			return 0, err
		}
		return uint64(n), nil
	}
	// Part of the buffer is not writable: fill chunk by chunk up to the fault.
	var done uint64
	chunk := make([]byte, 4096)
	for done < count {
		c := chunk[:min(uint64(len(chunk)), count-done)]
		n, err := unix.Getrandom(c, int(flags))
		if err != nil {
			if done > 0 {
				break
			}
			return 0, err
		}
		w, err := t.CopyOut(buf+abi.Addr(done), c[:n])
		done += uint64(w)
		if err != nil {
			if done == 0 {
				return 0, err
			}
			break
		}
	}
	return done, nil
}

// Personality implements Linux syscall personality(2).
func Personality(t *Task, a *Args) (uint64, error) {
	persona := a.Uint(0)
	x := t.Proc.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.st.Personality
	if persona != abi.PER_QUERY {
		x.st.Personality = persona
	}
	return uint64(old), nil
}

// hostRusage returns the host's usage for who (RUSAGE_SELF or RUSAGE_THREAD).
func hostRusage(who int) (abi.Rusage, error) {
	var r unix.Rusage
	if err := unix.Getrusage(who, &r); err != nil {
		return abi.Rusage{}, err
	}
	return abi.Rusage{
		Utime:  abi.Timeval{Sec: r.Utime.Sec, Usec: r.Utime.Usec},
		Stime:  abi.Timeval{Sec: r.Stime.Sec, Usec: r.Stime.Usec},
		Maxrss: r.Maxrss, Ixrss: r.Ixrss, Idrss: r.Idrss, Isrss: r.Isrss,
		Minflt: r.Minflt, Majflt: r.Majflt, Nswap: r.Nswap, Inblock: r.Inblock,
		Oublock: r.Oublock, Msgsnd: r.Msgsnd, Msgrcv: r.Msgrcv, Nsignals: r.Nsignals,
		Nvcsw: r.Nvcsw, Nivcsw: r.Nivcsw,
	}, nil
}

// AddChildUsage adds the usage of a reaped child (wait4) to the process's
// RUSAGE_CHILDREN totals, as Linux does when a child is waited for.
func (p *Process) AddChildUsage(c abi.Rusage) {
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	u := &x.childUsage
	addTV := func(a *abi.Timeval, b abi.Timeval) {
		us := a.Sec*1e6 + a.Usec + b.Sec*1e6 + b.Usec
		a.Sec, a.Usec = us/1e6, us%1e6
	}
	addTV(&u.Utime, c.Utime)
	addTV(&u.Stime, c.Stime)
	u.Maxrss = max(u.Maxrss, c.Maxrss)
	u.Ixrss += c.Ixrss
	u.Idrss += c.Idrss
	u.Isrss += c.Isrss
	u.Minflt += c.Minflt
	u.Majflt += c.Majflt
	u.Nswap += c.Nswap
	u.Inblock += c.Inblock
	u.Oublock += c.Oublock
	u.Msgsnd += c.Msgsnd
	u.Msgrcv += c.Msgrcv
	u.Nsignals += c.Nsignals
	u.Nvcsw += c.Nvcsw
	u.Nivcsw += c.Nivcsw
}

// childUsageTotals returns the RUSAGE_CHILDREN totals.
func (p *Process) childUsageTotals() abi.Rusage {
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.childUsage
}

// Getrusage implements Linux syscall getrusage(2). RUSAGE_SELF is the
// guestproc's host usage: it includes the vCPU time spent in guest code and
// also the kernel's own Go runtime, a close upper bound of what Linux would
// charge the program.
func Getrusage(t *Task, a *Args) (uint64, error) {
	var (
		ru  abi.Rusage
		err error
	)
	switch a.Int(0) {
	case abi.RUSAGE_SELF:
		ru, err = hostRusage(unix.RUSAGE_SELF)
		t.ownTimes(&ru) // cpu_usage.go
	case abi.RUSAGE_THREAD:
		ru, err = hostRusage(unix.RUSAGE_THREAD)
		if !t.Proc.threaded() {
			t.ownTimes(&ru)
		}
	case abi.RUSAGE_CHILDREN:
		ru = t.Proc.childUsageTotals()
	default:
		return 0, abi.EINVAL
	}
	if err != nil {
		return 0, err
	}
	return 0, copyOutABI(t, a.Addr(1), &ru)
}

// tvToTicks converts a timeval to clock_t ticks.
func tvToTicks(tv abi.Timeval) int64 {
	return tv.Sec*abi.CLK_TCK + tv.Usec/(1e6/abi.CLK_TCK)
}

// Times implements Linux syscall times(2). The return value is the host's
// (ticks since an arbitrary point in the past, as on Linux).
func Times(t *Task, a *Args) (uint64, error) {
	var ht unix.Tms
	ticks, err := unix.Times(&ht)
	if err != nil {
		return 0, err
	}
	if p := a.Addr(0); p != 0 {
		cu := t.Proc.childUsageTotals()
		tms := abi.Tms{
			Utime: ht.Utime, Stime: ht.Stime,
			Cutime: tvToTicks(cu.Utime), Cstime: tvToTicks(cu.Stime),
		}
		if user, sys, ok := t.selfUsage(); ok { // cpu_usage.go
			tms.Utime, tms.Stime = tvToTicks(durationTimeval(user)), tvToTicks(durationTimeval(sys))
		}
		if err := copyOutABI(t, p, &tms); err != nil {
			return 0, err
		}
	}
	return uint64(ticks), nil
}

// priorityTarget maps a getpriority/setpriority target to the host thread
// the call acts on (0: the calling one): any guest process by pid
// (hostTarget), the caller's own process group or user.
func (t *Task) priorityTarget(which, who int32) (int, error) {
	switch which {
	case abi.PRIO_PROCESS:
		return t.hostTarget(who)
	case abi.PRIO_PGRP:
		if pg, err := Getpgrp(t, &Args{}); err == nil && (who == 0 || uint64(who) == pg) {
			return 0, nil
		}
	case abi.PRIO_USER:
		if who == 0 || uint32(who) == t.Proc.Creds().RUID {
			return 0, nil
		}
	default:
		return 0, abi.EINVAL
	}
	return 0, abi.ESRCH
}

// Getpriority implements Linux syscall getpriority(2). Like the raw Linux
// syscall it returns 20 - nice (libc converts).
func Getpriority(t *Task, a *Args) (uint64, error) {
	tid, err := t.priorityTarget(a.Int(0), a.Int(1))
	if err != nil {
		return 0, err
	}
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, err
	}
	return uint64(prio), nil
}

// Setpriority implements Linux syscall setpriority(2): the host applies its
// own rules (raising priority needs CAP_SYS_NICE or RLIMIT_NICE) to the
// calling vCPU thread.
func Setpriority(t *Task, a *Args) (uint64, error) {
	tid, err := t.priorityTarget(a.Int(0), a.Int(1))
	if err != nil {
		return 0, err
	}
	return 0, unix.Setpriority(unix.PRIO_PROCESS, tid, int(a.Int(2)))
}
