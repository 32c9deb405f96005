package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// WholeRegsSyscalls lists the syscalls whose handlers read registers other
// than the number and the six arguments (RSP, RIP, the FS base, the whole
// set a fork or a signal return copies) or change the address space. A
// backend whose exits can carry only the syscall's registers
// (hvf/ptrace's notify mode) makes these exits whole at once; for any
// other syscall it makes them whole only when the kernel asks
// (hvf.LoadRegs, before a signal frame) or touches the machine.
//
// A handler that starts reading another register must be listed here.
func WholeRegsSyscalls() []int {
	return []int{
		// The register file itself. Not arch_prctl: it reads the
		// bases after hvf.LoadRegs, and a new FS base is the vCPU's
		// to set as it can (hvf/ptrace lets the stub's own call make
		// it).
		abi.SYS_RT_SIGRETURN, abi.SYS_SIGALTSTACK,
		abi.SYS_MODIFY_LDT, abi.SYS_SET_THREAD_AREA, abi.SYS_GET_THREAD_AREA,
		// Processes and threads: images of the registers, new ones.
		// Not exit and exit_group: they read no register, and the
		// machine they leave is stopped when it is recycled or closed
		// (hvf/ptrace: a held notification is withdrawn then), after
		// the exit was reported, not on the parent's wait's way.
		// Not execve and execveat: they make the registers whole at
		// their point of no return (exec_sys.go), so that a failed
		// exec is a plain round trip.
		abi.SYS_CLONE, abi.SYS_CLONE3, abi.SYS_FORK, abi.SYS_VFORK,
		// The address space: Machine operations on nearly every call.
		// Not here: mprotect and munmap (when their one Machine
		// operation is the guest's own call, hvf/ptrace lets the stub
		// make it: notify_defer.go; otherwise it halts the stub then),
		// pkey_mprotect (likewise halted when it comes to that),
		// madvise (whose discards punch the memory's host file: no
		// Machine operation), and mmap and brk, which read no register:
		// the stub is halted when one touches the machine, so a
		// brk(NULL) or a PROT_NONE reservation is a plain round trip.
		abi.SYS_MREMAP, abi.SYS_SHMAT, abi.SYS_SHMDT,
		abi.SYS_REMAP_FILE_PAGES,
	}
}
