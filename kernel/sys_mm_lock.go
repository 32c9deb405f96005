package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
)

func init() {
	register(map[uint64]Syscall{
		abi.SYS_MLOCK:      {Name: "mlock", Fn: Mlock},
		abi.SYS_MLOCK2:     {Name: "mlock2", Fn: Mlock2},
		abi.SYS_MUNLOCK:    {Name: "munlock", Fn: Munlock},
		abi.SYS_MLOCKALL:   {Name: "mlockall", Fn: Mlockall},
		abi.SYS_MUNLOCKALL: {Name: "munlockall", Fn: Munlockall},
	})
}

// mlock2(2) and mlockall(2) flags.
const (
	mlockOnFault = 1 // MLOCK_ONFAULT
	mclCurrent   = 1
	mclFuture    = 2
	mclOnFault   = 4
)

// lockRange is the page range mlock and munlock act on: addr rounded down,
// addr+length rounded up (EINVAL if that wraps, as Linux's mlock).
func lockRange(addr abi.Addr, length uint64) (abi.Range, bool) {
	start := addr &^ (abi.PageSize - 1)
	end, ok := addr.AddLength(length)
	if !ok {
		return abi.Range{}, false
	}
	end = (end + abi.PageSize - 1) &^ (abi.PageSize - 1)
	if end < start {
		return abi.Range{}, false
	}
	return abi.Range{Start: start, End: end}, true
}

func (t *Task) mlock(addr abi.Addr, length uint64, lock, onFault bool) (uint64, error) {
	r, ok := lockRange(addr, length)
	if !ok {
		return 0, abi.EINVAL
	}
	if r.Start == r.End {
		return 0, nil
	}
	return 0, t.Proc.MM.Lock(r, lock, onFault)
}

// Mlock implements Linux syscall mlock(2).
func Mlock(t *Task, a *Args) (uint64, error) {
	return t.mlock(a.Addr(0), a[1], true, false)
}

// Mlock2 implements Linux syscall mlock2(2).
func Mlock2(t *Task, a *Args) (uint64, error) {
	flags := a.Uint(2)
	if flags&^mlockOnFault != 0 {
		return 0, abi.EINVAL
	}
	return t.mlock(a.Addr(0), a[1], true, flags&mlockOnFault != 0)
}

// Munlock implements Linux syscall munlock(2).
func Munlock(t *Task, a *Args) (uint64, error) {
	return t.mlock(a.Addr(0), a[1], false, false)
}

// Mlockall implements Linux syscall mlockall(2): MCL_CURRENT locks what is
// mapped, MCL_FUTURE every later mmap, brk growth and mremap growth.
func Mlockall(t *Task, a *Args) (uint64, error) {
	flags := a.Uint(0)
	if flags == 0 || flags&^(mclCurrent|mclFuture|mclOnFault) != 0 || flags == mclOnFault {
		return 0, abi.EINVAL
	}
	m := t.Proc.MM
	onFault := flags&mclOnFault != 0
	if flags&mclCurrent != 0 {
		if err := m.LockAll(true, onFault); err != nil {
			return 0, err
		}
	}
	m.SetLockFuture(flags&mclFuture != 0, onFault)
	return 0, nil
}

// Munlockall implements Linux syscall munlockall(2).
func Munlockall(t *Task, a *Args) (uint64, error) {
	t.Proc.MM.SetLockFuture(false, false)
	return 0, t.Proc.MM.LockAll(false, false)
}
