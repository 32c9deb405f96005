package kernel

import (
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
)

// Resource limits: a per-process table initialised from the host's limits
// (HostRlimits). Limits are kept and enforced where the kernel implements the
// resource (RLIMIT_NOFILE by the descriptor table through Process.Rlimit,
// RLIMIT_FSIZE by the write paths: rlimit_fsize.go, RLIMIT_CPU by a
// watcher of the process's CPU time: rlimit_cpu.go); they are not applied
// to the host process. RLIMIT_AS is kept, not enforced.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_GETRLIMIT: {Name: "getrlimit", Fn: Getrlimit},
		abi.SYS_SETRLIMIT: {Name: "setrlimit", Fn: Setrlimit, Support: Partial,
			Note: "kept in the process's table; NOFILE, FSIZE and CPU enforced, AS not"},
		abi.SYS_PRLIMIT64: {Name: "prlimit64", Fn: Prlimit64, Support: Partial,
			Note: "another process through the supervisor (ESRCH for a stopped or zombie one); NOFILE, FSIZE and CPU enforced, AS not"},
	})
}

var (
	nrOpenOnce sync.Once
	nrOpen     uint64
)

// sysctlNrOpen returns the host's fs.nr_open, the ceiling of RLIMIT_NOFILE.
func sysctlNrOpen() uint64 {
	nrOpenOnce.Do(func() {
		nrOpen = abi.NR_OPEN
		if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
			if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
				nrOpen = v
			}
		}
	})
	return nrOpen
}

// prlimit is the core of getrlimit, setrlimit and prlimit64 (Linux's
// do_prlimit): it validates and installs newLim (if not nil) and returns
// the previous limit.
func (p *Process) prlimit(res uint32, newLim *abi.Rlimit) (abi.Rlimit, error) {
	return p.prlimitAs(res, newLim, nil)
}

// prlimitAs is prlimit by a caller whose CAP_SYS_RESOURCE is
// sysResource (nil: the process's own, a call on itself).
func (p *Process) prlimitAs(res uint32, newLim *abi.Rlimit, sysResource *bool) (abi.Rlimit, error) {
	if res >= abi.RLIM_NLIMITS {
		return abi.Rlimit{}, abi.EINVAL
	}
	if newLim != nil {
		if newLim.Cur > newLim.Max {
			return abi.Rlimit{}, abi.EINVAL
		}
		if res == abi.RLIMIT_NOFILE && newLim.Max > sysctlNrOpen() {
			return abi.Rlimit{}, abi.EPERM
		}
	}
	x := p.ext()
	x.mu.Lock()
	old := x.st.Rlimits[res]
	if newLim != nil {
		// Raising the hard limit needs CAP_SYS_RESOURCE, the
		// caller's.
		capable := x.st.Creds.capable(abi.CAP_SYS_RESOURCE)
		if sysResource != nil {
			capable = *sysResource
		}
		if newLim.Max > old.Max && !capable {
			x.mu.Unlock()
			return abi.Rlimit{}, abi.EPERM
		}
		x.st.Rlimits[res] = *newLim
	}
	x.mu.Unlock()
	if newLim != nil && (res == abi.RLIMIT_NOFILE || res == abi.RLIMIT_FSIZE || res == abi.RLIMIT_CPU) {
		p.syncFDLimit()
	}
	return old, nil
}

// syncFDLimit hands the RLIMIT_NOFILE soft limit to the descriptor table,
// which enforces it, and caches RLIMIT_FSIZE's for the writes. Call it whenever the limit may have changed (prlimit,
// SetState, process start).
func (p *Process) syncFDLimit() {
	if p.FDs != nil {
		p.FDs.SetLimit(p.Rlimit(abi.RLIMIT_NOFILE).Cur)
	}
	p.syncFsizeLimit() // rlimit_fsize.go
	p.syncCPULimit()   // rlimit_cpu.go
}

// copyInRlimit reads a struct rlimit64 from guest memory.
func copyInRlimit(t *Task, addr abi.Addr) (*abi.Rlimit, error) {
	var rl abi.Rlimit
	if err := copyInABI(t, addr, &rl); err != nil {
		return nil, err
	}
	return &rl, nil
}

// Getrlimit implements Linux syscall getrlimit(2).
func Getrlimit(t *Task, a *Args) (uint64, error) {
	old, err := t.Proc.prlimit(a.Uint(0), nil)
	if err != nil {
		return 0, err
	}
	return 0, copyOutABI(t, a.Addr(1), &old)
}

// Setrlimit implements Linux syscall setrlimit(2).
func Setrlimit(t *Task, a *Args) (uint64, error) {
	rl, err := copyInRlimit(t, a.Addr(1))
	if err != nil {
		return 0, err
	}
	_, err = t.Proc.prlimit(a.Uint(0), rl)
	return 0, err
}

// Prlimit64 implements Linux syscall prlimit64(2).
func Prlimit64(t *Task, a *Args) (uint64, error) {
	var newLim *abi.Rlimit
	if p := a.Addr(2); p != 0 {
		var err error
		if newLim, err = copyInRlimit(t, p); err != nil {
			return 0, err
		}
	}
	var old abi.Rlimit
	var err error
	if t.ownPid(a.Int(0)) {
		old, err = t.Proc.prlimit(a.Uint(1), newLim)
	} else {
		old, err = t.prlimitOther(a.Int(0), a.Uint(1), newLim) // rlimit_other.go
	}
	if err != nil {
		return 0, err
	}
	if p := a.Addr(3); p != 0 {
		return 0, copyOutABI(t, p, &old)
	}
	return 0, nil
}
