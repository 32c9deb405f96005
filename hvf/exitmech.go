package hvf

// How a guest SYSCALL reaches the host. Both mechanisms share everything
// the guest sees: LSTAR points at the trampoline page (user-executable),
// whose single `movabs %al, sysMMIO` store exits with KVM_EXIT_MMIO. They
// differ in where the CPU is parked at that exit, which decides how the
// host resumes the guest:
//
//   - ring3MMIO (PVM, KVM-NOTES §0/§2 path A): SYSCALL never leaves CPL 3,
//     so the trampoline runs in ring 3 and resuming is writing rip/rsp/
//     rflags into the sync-regs area;
//   - ring0MMIO (VMX/SVM): SYSCALL enters CPL 0 at LSTAR (CS 0x10, user RSP
//     untouched); the same store exits from ring 0, and the host resumes
//     through the shared `iretq` with a 5-word frame it wrote on the
//     vCPU's ring-0 stack. iretq (not sysretq) keeps RCX/R11 exactly as the
//     kernel left them and never faults on a user-chosen rip, which the
//     host checks for canonicality beforehand.
//
// The probe runs at the first syscall exit of the process's first vCPU: it
// reads CS with KVM_GET_SREGS once and picks the mechanism for every later
// exit of every vCPU.
type exitMech interface {
	String() string
	// syscallInRing0 reports whether the vCPU is parked in ring 0 at a
	// syscall exit.
	syscallInRing0() bool
}

type ring3MMIO struct{}

func (ring3MMIO) String() string       { return "ring3-mmio (PVM: SYSCALL stays in CPL 3)" }
func (ring3MMIO) syscallInRing0() bool { return false }

type ring0MMIO struct{}

func (ring0MMIO) String() string       { return "ring0-mmio (SYSCALL enters CPL 0, resume by iretq)" }
func (ring0MMIO) syscallInRing0() bool { return true }

// probeExitMech picks the mechanism from the code segment seen at the
// first syscall exit.
func probeExitMech(cs kvmSegment) exitMech {
	if cs.Selector&3 == 0 {
		return ring0MMIO{}
	}
	return ring3MMIO{}
}
