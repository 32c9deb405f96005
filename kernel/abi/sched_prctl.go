package abi

// prctl(2) options (include/uapi/linux/prctl.h).
const (
	PR_SET_PDEATHSIG  = 1
	PR_GET_PDEATHSIG  = 2
	PR_GET_DUMPABLE   = 3
	PR_SET_DUMPABLE   = 4
	PR_GET_KEEPCAPS   = 7
	PR_SET_KEEPCAPS   = 8
	PR_SET_NAME       = 15
	PR_GET_NAME       = 16
	PR_GET_SECUREBITS = 27
	PR_SET_SECUREBITS = 28
	// SECBIT_KEEP_CAPS is the securebit PR_SET_KEEPCAPS sets.
	SECBIT_KEEP_CAPS         = 1 << 4
	PR_GET_SECCOMP           = 21
	PR_SET_SECCOMP           = 22
	PR_CAPBSET_READ          = 23
	PR_CAPBSET_DROP          = 24
	PR_SET_TIMERSLACK        = 29
	PR_GET_TIMERSLACK        = 30
	PR_SET_CHILD_SUBREAPER   = 36
	PR_GET_CHILD_SUBREAPER   = 37
	PR_SET_NO_NEW_PRIVS      = 38
	PR_GET_NO_NEW_PRIVS      = 39
	PR_GET_TID_ADDRESS       = 40
	PR_SET_THP_DISABLE       = 41
	PR_GET_THP_DISABLE       = 42
	PR_CAP_AMBIENT           = 47
	PR_SET_VMA               = 0x53564d41
	PR_SET_PTRACER           = 0x59616d61
	PR_CAP_AMBIENT_IS_SET    = 1
	PR_CAP_AMBIENT_RAISE     = 2
	PR_CAP_AMBIENT_LOWER     = 3
	PR_CAP_AMBIENT_CLEAR_ALL = 4
)

// TASK_COMM_LEN is the size of a task's comm buffer, NUL included.
const TASK_COMM_LEN = 16

// CAP_LAST_CAP is the highest capability number Linux 6.x knows.
const CAP_LAST_CAP = 40

// arch_prctl(2) codes (arch/x86/include/uapi/asm/prctl.h).
const (
	ARCH_SET_GS    = 0x1001
	ARCH_SET_FS    = 0x1002
	ARCH_GET_FS    = 0x1003
	ARCH_GET_GS    = 0x1004
	ARCH_GET_CPUID = 0x1011
	ARCH_SET_CPUID = 0x1012
)

// TASK_SIZE_MAX is the end of the x86-64 user address space with 4-level
// paging; arch_prctl refuses FS/GS bases at or above it.
const TASK_SIZE_MAX = 1<<47 - PageSize

// Capabilities the kernel's permission checks use (include/uapi/linux/capability.h).
const (
	CAP_CHOWN           = 0
	CAP_DAC_OVERRIDE    = 1
	CAP_DAC_READ_SEARCH = 2
	CAP_FOWNER          = 3
	CAP_FSETID          = 4
	CAP_SETGID          = 6
	CAP_SETUID          = 7
	CAP_SETPCAP         = 8
	CAP_LINUX_IMMUTABLE = 9
	CAP_SYS_ADMIN       = 21
	CAP_SYS_RESOURCE    = 24
	CAP_MKNOD           = 27
	CAP_MAC_OVERRIDE    = 32
)

// capget(2)/capset(2) header versions.
const (
	LINUX_CAPABILITY_VERSION_1 = 0x19980330
	LINUX_CAPABILITY_VERSION_2 = 0x20071026
	LINUX_CAPABILITY_VERSION_3 = 0x20080522
)
