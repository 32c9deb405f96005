package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// Guest address-space layout. Guest user addresses live in
// [abi.MMAP_MIN_ADDR, AddrLimit); backends may use addresses at or above
// AddrLimit for their own pages.
//
//	AddrLimit  ─┐ 1<<46 (64 TiB)
//	            │ stack guard gap (StackGuardGap)
//	StackTop   ─┤
//	            │ stack VMA, StackSize (RLIMIT_STACK), RW, untouched = free
//	            │ gap (MmapGap)
//	MmapBase   ─┤ anonymous and file mmaps, allocated top-down
//	            │ ...
//	ETDynBase  ─┤ ~2/3 of AddrLimit: static-PIE / PIE main program
//	            │ ...
//	            │ ET_EXEC programs at their link address (0x400000...),
//	            │ brk right after the highest PT_LOAD
//	0x10000    ─┘ abi.MMAP_MIN_ADDR
const (
	// AddrLimit is the end of the guest's user address space.
	AddrLimit abi.Addr = 1 << 46
	// StackGuardGap separates the stack top from AddrLimit.
	StackGuardGap = 1 << 20
	// StackTop is the highest stack address (exclusive).
	StackTop = AddrLimit - StackGuardGap
	// StackSize is the size of the stack mapping (RLIMIT_STACK default).
	StackSize = 8 << 20
	// MmapGap is the distance between the stack top and the mmap base, as
	// Linux's MIN_GAP (128 MiB) which covers the stack and its guard.
	MmapGap = 128 << 20
	// MmapBase is where top-down mmap allocation starts.
	MmapBase = StackTop - MmapGap
	// UserPtrMax is Linux's TASK_SIZE_MAX on x86-64 (47-bit user space
	// minus a guard page): access_ok(p, 0) fails above it. Guests believe
	// they run on that kernel, so zero-length accesses check it although
	// nothing at or above AddrLimit is ever mapped.
	UserPtrMax abi.Addr = 0x7ffffffff000
	// ETDynBase is the load address of position-independent main programs,
	// like Linux's ELF_ET_DYN_BASE (2/3 of the address space), page aligned.
	ETDynBase = (AddrLimit / 3 * 2) &^ (abi.PageSize - 1)
)
