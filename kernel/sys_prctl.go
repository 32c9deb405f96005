package kernel

import (
	"bytes"

	"github.com/elfuse/elfuse/kernel/abi"
)

func init() {
	register(map[uint64]Syscall{
		abi.SYS_PRCTL: {Name: "prctl", Fn: Prctl, Support: Partial,
			Note: "name, dumpable, pdeathsig, child subreaper, no_new_privs, keepcaps, timerslack, THP, capability bounding/ambient sets, seccomp query; PR_SET_VMA/PR_SET_PTRACER accepted; other options EINVAL"},
	})
}

// maxSig is the highest signal number (_NSIG).
const maxSig = 64

// Prctl implements Linux syscall prctl(2). The state lives in the process's
// ProcState; options with effects elfuse cannot have on the host
// (PR_SET_VMA naming, PR_SET_PTRACER) are accepted without effect, as
// Linux kernels built without those features do.
func Prctl(t *Task, a *Args) (uint64, error) {
	option, arg2 := a.Int(0), a[1]
	x := t.Proc.ext()
	switch option {
	case abi.PR_SET_NAME:
		name, err := copyInComm(t, abi.Addr(arg2))
		if err != nil {
			return 0, err
		}
		t.SetComm(name) // thread_comm.go
		return 0, nil
	case abi.PR_GET_NAME:
		var buf [abi.TASK_COMM_LEN]byte
		copy(buf[:], t.Comm())
		_, err := t.CopyOut(abi.Addr(arg2), buf[:])
		return 0, err
	case abi.PR_GET_DUMPABLE:
		x.mu.Lock()
		defer x.mu.Unlock()
		return uint64(x.st.Dumpable), nil
	case abi.PR_SET_DUMPABLE:
		if arg2 != 0 && arg2 != 1 {
			return 0, abi.EINVAL
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.st.Dumpable = int32(arg2)
		return 0, nil
	case abi.PR_SET_PDEATHSIG:
		if arg2 > maxSig {
			return 0, abi.EINVAL
		}
		x.mu.Lock()
		x.st.PdeathSig = int32(arg2)
		x.mu.Unlock()
		// The tree sends it when the parent ends (supervisor).
		if k := t.Proc.Kernel; k != nil {
			if h, ok := k.Host.(PdeathHost); ok {
				h.SetPdeathsig(int32(arg2))
			}
		}
		return 0, nil
	case abi.PR_GET_PDEATHSIG:
		return 0, copyOutU32(t, abi.Addr(arg2), uint32(t.Proc.State().PdeathSig))
	case abi.PR_SET_CHILD_SUBREAPER:
		x.mu.Lock()
		defer x.mu.Unlock()
		x.st.ChildSubreaper = arg2 != 0
		return 0, nil
	case abi.PR_GET_CHILD_SUBREAPER:
		return 0, copyOutU32(t, abi.Addr(arg2), boolU32(t.Proc.State().ChildSubreaper))
	case abi.PR_GET_SECCOMP:
		return 0, nil // no seccomp filter is ever installed
	case abi.PR_SET_NO_NEW_PRIVS:
		if arg2 != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, abi.EINVAL
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.st.NoNewPrivs = true
		return 0, nil
	case abi.PR_GET_NO_NEW_PRIVS:
		if arg2 != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, abi.EINVAL
		}
		return uint64(boolU32(t.Proc.State().NoNewPrivs)), nil
	case abi.PR_GET_KEEPCAPS:
		return uint64(boolU32(t.Proc.State().KeepCaps)), nil
	case abi.PR_SET_KEEPCAPS:
		if arg2 > 1 {
			return 0, abi.EINVAL
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.st.KeepCaps = arg2 == 1
		return 0, nil
	case abi.PR_GET_SECUREBITS:
		// Of the securebits only keep-caps is implemented; the others
		// are never set (PR_SET_SECUREBITS refuses them).
		if t.Proc.State().KeepCaps {
			return abi.SECBIT_KEEP_CAPS, nil
		}
		return 0, nil
	case abi.PR_SET_SECUREBITS:
		x.mu.Lock()
		defer x.mu.Unlock()
		if !x.st.Creds.capable(abi.CAP_SETPCAP) {
			return 0, abi.EPERM
		}
		if arg2&^abi.SECBIT_KEEP_CAPS != 0 {
			return 0, abi.EINVAL // noroot, no-setuid-fixup, locks: not implemented
		}
		x.st.KeepCaps = arg2 != 0
		return 0, nil
	case abi.PR_GET_TIMERSLACK:
		return t.Proc.State().TimerSlackNs, nil
	case abi.PR_SET_TIMERSLACK:
		x.mu.Lock()
		defer x.mu.Unlock()
		if arg2 == 0 {
			arg2 = defaultTimerSlackNs
		}
		x.st.TimerSlackNs = arg2
		return 0, nil
	case abi.PR_GET_THP_DISABLE:
		if arg2 != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, abi.EINVAL
		}
		return uint64(boolU32(t.Proc.State().THPDisable)), nil
	case abi.PR_SET_THP_DISABLE:
		if a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, abi.EINVAL
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.st.THPDisable = arg2 != 0
		return 0, nil
	case abi.PR_GET_TID_ADDRESS:
		return 0, copyOutU64(t, abi.Addr(arg2), uint64(t.ClearTID))
	case abi.PR_CAPBSET_READ:
		if arg2 > abi.CAP_LAST_CAP {
			return 0, abi.EINVAL
		}
		return t.Proc.Creds().Caps.Bounding >> arg2 & 1, nil
	case abi.PR_CAPBSET_DROP:
		if arg2 > abi.CAP_LAST_CAP {
			return 0, abi.EINVAL
		}
		return 0, t.Proc.updateCreds(func(c *Creds) error {
			if !c.capable(abi.CAP_SETPCAP) {
				return abi.EPERM
			}
			c.Caps.Bounding &^= 1 << arg2
			return nil
		})
	case abi.PR_CAP_AMBIENT:
		return t.capAmbient(a)
	case abi.PR_SET_VMA, abi.PR_SET_PTRACER:
		return 0, nil
	}
	return 0, abi.EINVAL
}

// capAmbient implements PR_CAP_AMBIENT: a capability may be raised into the
// ambient set only while it is both permitted and inheritable.
func (t *Task) capAmbient(a *Args) (uint64, error) {
	if a[3] != 0 || a[4] != 0 {
		return 0, abi.EINVAL
	}
	op, cp := a[1], a[2]
	if op == abi.PR_CAP_AMBIENT_CLEAR_ALL {
		if cp != 0 {
			return 0, abi.EINVAL
		}
		return 0, t.Proc.updateCreds(func(c *Creds) error { c.Caps.Ambient = 0; return nil })
	}
	if cp > abi.CAP_LAST_CAP {
		return 0, abi.EINVAL
	}
	bit := uint64(1) << cp
	switch op {
	case abi.PR_CAP_AMBIENT_IS_SET:
		return t.Proc.Creds().Caps.Ambient >> cp & 1, nil
	case abi.PR_CAP_AMBIENT_RAISE:
		return 0, t.Proc.updateCreds(func(c *Creds) error {
			if c.Caps.Permitted&bit == 0 || c.Caps.Inheritable&bit == 0 {
				return abi.EPERM
			}
			c.Caps.Ambient |= bit
			return nil
		})
	case abi.PR_CAP_AMBIENT_LOWER:
		return 0, t.Proc.updateCreds(func(c *Creds) error { c.Caps.Ambient &^= bit; return nil })
	}
	return 0, abi.EINVAL
}

// copyInComm reads a PR_SET_NAME argument: at most TASK_COMM_LEN-1 bytes up
// to a NUL, as Linux's strncpy_from_user does; a longer name is cut, and
// bytes past the NUL need not be mapped.
func copyInComm(t *Task, addr abi.Addr) (string, error) {
	buf := make([]byte, abi.TASK_COMM_LEN-1)
	n, err := t.CopyIn(addr, buf)
	if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
		return string(buf[:i]), nil
	}
	if err != nil {
		return "", err
	}
	return string(buf), nil
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// PdeathHost is the optional part of a Host that delivers
// PR_SET_PDEATHSIG: the process's tree sends the signal when its parent
// ends.
type PdeathHost interface {
	SetPdeathsig(sig int32)
}
