package kernel

import (
	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// Thread state: TLS bases, the clear-child-tid and robust-list pointers,
// and thread/process exit.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_ARCH_PRCTL: {Name: "arch_prctl", Fn: ArchPrctl, Support: Partial,
			Note: "FS/GS bases and CPUID queries; CPUID faulting (ARCH_SET_CPUID 0) ENODEV; others EINVAL"},
		abi.SYS_SET_TID_ADDRESS: {Name: "set_tid_address", Fn: SetTidAddress},
		abi.SYS_SET_ROBUST_LIST: {Name: "set_robust_list", Fn: SetRobustList},
		abi.SYS_GET_ROBUST_LIST: {Name: "get_robust_list", Fn: GetRobustList, Support: Partial,
			Note: "the caller's process only; other pids ESRCH"},
		abi.SYS_RSEQ: {Name: "rseq", Fn: Rseq, Support: Stub,
			Note: "restartable sequences are not supported: ENOSYS, which glibc and others accept"},
		abi.SYS_EXIT:       {Name: "exit", Fn: Exit},
		abi.SYS_EXIT_GROUP: {Name: "exit_group", Fn: ExitGroup},
	})
}

// ArchPrctl implements Linux syscall arch_prctl(2).
func ArchPrctl(t *Task, a *Args) (uint64, error) {
	code, arg := a.Int(0), a.Addr(1)
	switch code {
	case abi.ARCH_SET_FS, abi.ARCH_SET_GS:
		if arg >= abi.TASK_SIZE_MAX {
			return 0, abi.EPERM
		}
		if code == abi.ARCH_SET_FS {
			t.CPU.SetFSBase(uint64(arg))
		} else {
			t.CPU.SetGSBase(uint64(arg))
		}
		return 0, nil
	case abi.ARCH_GET_FS, abi.ARCH_GET_GS:
		// The bases are not among a syscall exit's registers where
		// those are partial (syscall_regs.go); guest code may have set
		// them itself (WRFSBASE).
		if err := hvf.LoadRegs(t.CPU); err != nil {
			return 0, abi.EIO
		}
		if code == abi.ARCH_GET_FS {
			return 0, copyOutU64(t, arg, t.CPU.FSBase())
		}
		return 0, copyOutU64(t, arg, t.CPU.GSBase())
	case abi.ARCH_GET_CPUID:
		return 1, nil // CPUID is enabled (never faults)
	case abi.ARCH_SET_CPUID:
		if a[1] != 0 {
			return 0, nil
		}
		return 0, abi.ENODEV // no CPUID faulting under a hypervisor facade
	}
	return 0, abi.EINVAL
}

// SetTidAddress implements Linux syscall set_tid_address(2).
func SetTidAddress(t *Task, a *Args) (uint64, error) {
	t.ClearTID = a.Addr(0)
	return uint64(t.Tid), nil
}

// SetRobustList implements Linux syscall set_robust_list(2).
func SetRobustList(t *Task, a *Args) (uint64, error) {
	if a[1] != abi.SizeofRobustListHead {
		return 0, abi.EINVAL
	}
	t.RobustList = a.Addr(0)
	t.thread.robust.Store(uint64(t.RobustList))
	return 0, nil
}

// GetRobustList implements Linux syscall get_robust_list(2).
func GetRobustList(t *Task, a *Args) (uint64, error) {
	head := uint64(t.RobustList)
	if pid := int32(a.Int(0)); pid != 0 && pid != t.Tid {
		o := t.Proc.taskByTid(pid) // another thread of this process
		if o == nil {
			return 0, abi.ESRCH
		}
		head = o.thread.robust.Load()
	}
	if err := copyOutU64(t, a.Addr(1), head); err != nil {
		return 0, err
	}
	return 0, copyOutU64(t, a.Addr(2), abi.SizeofRobustListHead)
}

// Rseq implements Linux syscall rseq(2) by refusing it: registering an rseq
// area would oblige the kernel to update it on every preemption.
func Rseq(t *Task, a *Args) (uint64, error) { return 0, abi.ENOSYS }

// Exit implements Linux syscall exit(2): it ends the calling thread; the
// last thread's exit ends the process (thread.go).
func Exit(t *Task, a *Args) (uint64, error) {
	if !t.Proc.threaded() {
		return ExitGroup(t, a)
	}
	t.exitThread(uint32(a.Int(0)&0xff) << 8)
	return 0, ErrNoReturn
}

// ExitGroup implements Linux syscall exit_group(2).
func ExitGroup(t *Task, a *Args) (uint64, error) {
	t.exitRobustList()
	t.Proc.exitGroup(uint32(a.Int(0)&0xff) << 8)
	return 0, ErrNoReturn
}
