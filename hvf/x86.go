package hvf

import "encoding/binary"

// x86-64 system structures the KVM backend builds for a kernel-less guest:
// Linux's GDT layout, a 64-bit TSS, interrupt gates, and the control
// register values of KVM-NOTES §1.

// Segment selectors, as in Linux (arch/x86/include/asm/segment.h).
const (
	selKernelCS32 = 0x08
	selKernelCS   = 0x10
	selKernelDS   = 0x18
	selUserCS32   = 0x23
	selUserDS     = 0x2b
	selUserCS     = 0x33
	selTSS        = 0x40
)

// GDT descriptors. The accessed bit is preset in every code/data type so the
// CPU never writes the GDT.
const (
	gdtKernelCS32 = 0x00cf9b000000ffff // base 0, limit 4G, P DPL0 code RX-A, D
	gdtKernelCS   = 0x00af9b000000ffff // P DPL0 code RX-A, L
	gdtKernelDS   = 0x00cf93000000ffff // P DPL0 data RW-A
	gdtUserCS32   = 0x00cffb000000ffff // P DPL3 code RX-A, D
	gdtUserDS     = 0x00cff3000000ffff // P DPL3 data RW-A
	gdtUserCS     = 0x00affb000000ffff // P DPL3 code RX-A, L
)

// gdtEntries is the number of 8-byte GDT slots: 0..7 plus the two halves of
// the 64-bit TSS descriptor at index 8 (selector 0x40).
const gdtEntries = 10

// gdtLimit is the GDTR limit (size - 1).
const gdtLimit = gdtEntries*8 - 1

// tssSize is the size of the 64-bit TSS without an I/O bitmap; also the
// TR limit + 1.
const tssSize = 0x68

// tssLimit is the TR limit.
const tssLimit = tssSize - 1

// TSS field offsets (Intel SDM vol. 3 fig. 8-11).
const (
	tssRSP0   = 0x04
	tssIST1   = 0x24
	tssIOMapB = 0x66
)

// tssDescriptor encodes a 64-bit available-or-busy TSS descriptor (16 bytes,
// type 0xB busy) for base and limit.
func tssDescriptor(base uint64, limit uint32) (lo, hi uint64) {
	lo = uint64(limit&0xffff) |
		(base&0xffffff)<<16 |
		uint64(0x8b)<<40 | // P=1 DPL=0 S=0 type=0xB (busy 64-bit TSS)
		uint64((limit>>16)&0xf)<<48 |
		((base>>24)&0xff)<<56
	hi = base >> 32
	return lo, hi
}

// buildGDT writes the per-vCPU GDT (gdtEntries*8 bytes) into b.
func buildGDT(b []byte, tssBase uint64) {
	le := binary.LittleEndian
	for i := range gdtEntries * 8 {
		b[i] = 0
	}
	le.PutUint64(b[1*8:], gdtKernelCS32)
	le.PutUint64(b[2*8:], gdtKernelCS)
	le.PutUint64(b[3*8:], gdtKernelDS)
	le.PutUint64(b[4*8:], gdtUserCS32)
	le.PutUint64(b[5*8:], gdtUserDS)
	le.PutUint64(b[6*8:], gdtUserCS)
	lo, hi := tssDescriptor(tssBase, tssLimit)
	le.PutUint64(b[8*8:], lo)
	le.PutUint64(b[9*8:], hi)
}

// buildTSS writes a 64-bit TSS into b (tssSize bytes): RSP0 is the ring-0
// stack for exceptions from ring 3, IST1 the stack for #DF/NMI/#MC, and the
// I/O map base points past the limit (no I/O bitmap: every port faults).
func buildTSS(b []byte, rsp0, ist1 uint64) {
	le := binary.LittleEndian
	for i := range tssSize {
		b[i] = 0
	}
	le.PutUint64(b[tssRSP0:], rsp0)
	le.PutUint64(b[tssIST1:], ist1)
	le.PutUint16(b[tssIOMapB:], tssSize)
}

// Interrupt-gate attribute bytes.
const (
	gateIntDPL0 = 0x8e // P=1 DPL=0 type=0xE (64-bit interrupt gate)
	gateIntDPL3 = 0xee // P=1 DPL=3: reachable by int3/into from ring 3
)

// idtGate encodes a 16-byte 64-bit interrupt gate.
func idtGate(handler uint64, sel uint16, ist uint8, attr uint8) (lo, hi uint64) {
	lo = handler&0xffff |
		uint64(sel)<<16 |
		uint64(ist&7)<<32 |
		uint64(attr)<<40 |
		(handler>>16&0xffff)<<48
	hi = handler >> 32
	return lo, hi
}

// Control registers and EFER (KVM-NOTES §1, §5).
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0AM = 1 << 18
	cr0PG = 1 << 31

	cr4PAE        = 1 << 5
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10
	cr4FSGSBASE   = 1 << 16
	cr4OSXSAVE    = 1 << 18

	eferSCE = 1 << 0
	eferLME = 1 << 8
	eferLMA = 1 << 10
	eferNXE = 1 << 11
)

// guestCR0 is PE|MP|ET|NE|WP|AM|PG = 0x80050033.
const guestCR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG

// guestEFER is SCE|LME|LMA|NXE = 0xd01.
const guestEFER = eferSCE | eferLME | eferLMA | eferNXE

// guestCR4 returns PAE|OSFXSR|OSXMMEXCPT, plus OSXSAVE and FSGSBASE when
// the guest CPUID advertises XSAVE and RD/WRFSBASE (stock KVM rejects CR4
// bits whose feature the guest CPUID lacks).
func guestCR4(xsave, fsgsbase bool) uint64 {
	v := uint64(cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT)
	if xsave {
		v |= cr4OSXSAVE
	}
	if fsgsbase {
		v |= cr4FSGSBASE
	}
	return v
}

// starMSR makes SYSCALL load CS 0x10/SS 0x18 and SYSRET CS 0x33/SS 0x2b,
// as on Linux.
const starMSR = uint64(selUserCS32)<<48 | uint64(selKernelCS)<<32

// sfmaskMSR clears TF|DF|IF|IOPL|AC|NT on SYSCALL (Linux's value).
const sfmaskMSR = 0x47700

// RFLAGS bits.
const (
	rflagsFixed = 1 << 1
	rflagsIF    = 1 << 9
	// rflagsUser are the flags a user program may own: CF PF AF ZF SF TF
	// DF OF AC ID (Linux's FIX_EFLAGS minus RF/NT).
	rflagsUser = 0x240dd5
)

// userRFLAGS turns a value the kernel or the guest supplied into flags that
// are safe to run ring 3 with: user bits kept, IF and the fixed bit set,
// IOPL/NT/VM/RF cleared.
func userRFLAGS(v uint64) uint64 {
	return v&rflagsUser | rflagsIF | rflagsFixed
}

// canonical reports whether v is a canonical 48-bit virtual address.
func canonical(v uint64) bool {
	top := int64(v) >> 47
	return top == 0 || top == -1
}

// kvm segments for the vCPU's initial ring-3 state (KVM-NOTES §1).
func userCodeSegment() kvmSegment {
	return kvmSegment{Limit: 0xffffffff, Selector: selUserCS, Type: 11, Present: 1, DPL: 3, S: 1, L: 1, G: 1}
}

func userDataSegment(sel uint16) kvmSegment {
	return kvmSegment{Limit: 0xffffffff, Selector: sel, Type: 3, Present: 1, DPL: 3, DB: 1, S: 1, G: 1}
}

func tssSegment(base uint64) kvmSegment {
	return kvmSegment{Base: base, Limit: tssLimit, Selector: selTSS, Type: 11, Present: 1}
}

func unusableLDT() kvmSegment {
	return kvmSegment{Type: 2, Unusable: 1}
}
