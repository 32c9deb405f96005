package hvf

// Linux KVM ABI for x86-64, transcribed from include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h. Struct layouts carry explicit padding so
// that their Go size equals the C size; kvm_abi_test.go checks every size
// and offset used here against values printed by a C program compiled
// against the UAPI headers.

// ioctl request encoding (asm-generic/ioctl.h).
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
)

func ioc(dir, typ, nr, size uintptr) uintptr {
	return dir<<30 | size<<16 | typ<<8 | nr
}

const kvmio = 0xAE

// ioctl requests on /dev/kvm, a VM fd and a vCPU fd.
var (
	kvmGetAPIVersion       = ioc(iocNone, kvmio, 0x00, 0)
	kvmCreateVM            = ioc(iocNone, kvmio, 0x01, 0)
	kvmCheckExtension      = ioc(iocNone, kvmio, 0x03, 0)
	kvmGetVCPUMmapSize     = ioc(iocNone, kvmio, 0x04, 0)
	kvmGetSupportedCPUID   = ioc(iocRead|iocWrite, kvmio, 0x05, 8)
	kvmCreateVCPU          = ioc(iocNone, kvmio, 0x41, 0)
	kvmSetUserMemoryRegion = ioc(iocWrite, kvmio, 0x46, 32)
	kvmRun                 = ioc(iocNone, kvmio, 0x80, 0)
	kvmGetRegs             = ioc(iocRead, kvmio, 0x81, 144)
	kvmSetRegs             = ioc(iocWrite, kvmio, 0x82, 144)
	kvmGetSregs            = ioc(iocRead, kvmio, 0x83, 312)
	kvmSetSregs            = ioc(iocWrite, kvmio, 0x84, 312)
	kvmGetMSRs             = ioc(iocRead|iocWrite, kvmio, 0x88, 8)
	kvmSetMSRs             = ioc(iocWrite, kvmio, 0x89, 8)
	kvmSetCPUID2           = ioc(iocWrite, kvmio, 0x90, 8)
	kvmGetXSave            = ioc(iocRead, kvmio, 0xa4, 4096)
	kvmSetXSave            = ioc(iocWrite, kvmio, 0xa5, 4096)
	kvmGetXCRs             = ioc(iocRead, kvmio, 0xa6, 392)
	kvmSetXCRs             = ioc(iocWrite, kvmio, 0xa7, 392)
	kvmSetDeviceAttr       = ioc(iocWrite, kvmio, 0xe1, 24)
)

// kvmAPIVersion is the only KVM API version Linux has shipped since 2.6.22.
const kvmAPIVersion = 12

// Capabilities (KVM_CAP_*).
const (
	kvmCapUserMemory    = 3
	kvmCapExtCPUID      = 7
	kvmCapNrMemslots    = 10
	kvmCapXSave         = 55
	kvmCapXCRs          = 56
	kvmCapSyncRegs      = 74
	kvmCapImmediateExit = 136
)

// Exit reasons (KVM_EXIT_*).
const (
	kvmExitUnknown       = 0
	kvmExitException     = 1
	kvmExitIO            = 2
	kvmExitHypercall     = 3
	kvmExitDebug         = 4
	kvmExitHLT           = 5
	kvmExitMMIO          = 6
	kvmExitShutdown      = 8
	kvmExitFailEntry     = 9
	kvmExitIntr          = 10
	kvmExitInternalError = 17
	kvmExitMemoryFault   = 39
)

var kvmExitNames = map[uint32]string{
	kvmExitUnknown:       "KVM_EXIT_UNKNOWN",
	kvmExitException:     "KVM_EXIT_EXCEPTION",
	kvmExitIO:            "KVM_EXIT_IO",
	kvmExitHypercall:     "KVM_EXIT_HYPERCALL",
	kvmExitDebug:         "KVM_EXIT_DEBUG",
	kvmExitHLT:           "KVM_EXIT_HLT",
	kvmExitMMIO:          "KVM_EXIT_MMIO",
	kvmExitShutdown:      "KVM_EXIT_SHUTDOWN",
	kvmExitFailEntry:     "KVM_EXIT_FAIL_ENTRY",
	kvmExitIntr:          "KVM_EXIT_INTR",
	kvmExitInternalError: "KVM_EXIT_INTERNAL_ERROR",
	kvmExitMemoryFault:   "KVM_EXIT_MEMORY_FAULT",
}

// Sync-regs selectors (KVM_SYNC_X86_*).
const (
	kvmSyncX86Regs  = 1
	kvmSyncX86Sregs = 2
)

// Offsets into the mmap'd struct kvm_run.
const (
	runImmediateExit = 1   // __u8 immediate_exit
	runExitReason    = 8   // __u32 exit_reason
	runExitUnion     = 32  // the per-exit union
	runMMIOPhysAddr  = 32  // mmio.phys_addr
	runMMIOData      = 40  // mmio.data[8]
	runMMIOLen       = 48  // mmio.len
	runMMIOIsWrite   = 52  // mmio.is_write
	runInternalSub   = 32  // internal.suberror
	runInternalNData = 36  // internal.ndata
	runInternalData  = 40  // internal.data[16]
	runValidRegs     = 288 // kvm_valid_regs
	runDirtyRegs     = 296 // kvm_dirty_regs
	runSyncRegs      = 304 // s.regs.regs (struct kvm_regs)
	runSyncSregs     = 448 // s.regs.sregs
	runMinSize       = 2352
)

// kvmRegs is struct kvm_regs.
type kvmRegs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

// kvmSegment is struct kvm_segment.
type kvmSegment struct {
	Base     uint64
	Limit    uint32
	Selector uint16
	Type     uint8
	Present  uint8
	DPL      uint8
	DB       uint8
	S        uint8
	L        uint8
	G        uint8
	AVL      uint8
	Unusable uint8
	_        uint8
}

// kvmDtable is struct kvm_dtable.
type kvmDtable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// kvmSregs is struct kvm_sregs.
type kvmSregs struct {
	CS, DS, ES, FS, GS, SS kvmSegment
	TR, LDT                kvmSegment
	GDT, IDT               kvmDtable
	CR0, CR2, CR3, CR4     uint64
	CR8, EFER, APICBase    uint64
	InterruptBitmap        [4]uint64
}

// kvmUserspaceMemoryRegion is struct kvm_userspace_memory_region.
type kvmUserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// kvmCPUIDEntry2 is struct kvm_cpuid_entry2.
type kvmCPUIDEntry2 struct {
	Function uint32
	Index    uint32
	Flags    uint32
	EAX      uint32
	EBX      uint32
	ECX      uint32
	EDX      uint32
	_        [3]uint32
}

// kvmCPUIDMax bounds the entries we pass to GET_SUPPORTED_CPUID; current
// kernels report well under 100.
const kvmCPUIDMax = 256

// kvmCPUID2 is struct kvm_cpuid2 with a fixed-size entries array.
type kvmCPUID2 struct {
	Nent    uint32
	_       uint32
	Entries [kvmCPUIDMax]kvmCPUIDEntry2
}

// kvmMSREntry is struct kvm_msr_entry.
type kvmMSREntry struct {
	Index uint32
	_     uint32
	Data  uint64
}

// kvmMSRsMax bounds one KVM_SET_MSRS batch.
const kvmMSRsMax = 8

// kvmMSRs is struct kvm_msrs with a fixed-size entries array.
type kvmMSRs struct {
	NMSRs   uint32
	_       uint32
	Entries [kvmMSRsMax]kvmMSREntry
}

// kvmXCR is struct kvm_xcr.
type kvmXCR struct {
	XCR   uint32
	_     uint32
	Value uint64
}

// kvmXCRs is struct kvm_xcrs.
type kvmXCRs struct {
	NrXCRs uint32
	Flags  uint32
	XCRs   [16]kvmXCR
	_      [16]uint64
}

// kvmDeviceAttr is struct kvm_device_attr (KVM_SET_DEVICE_ATTR on a vCPU).
type kvmDeviceAttr struct {
	Flags uint32
	Group uint32
	Attr  uint64
	Addr  uint64
}

// vCPU device attributes (asm/kvm.h).
const (
	kvmVCPUTSCCtrl   = 0 // group: the timestamp counter
	kvmVCPUTSCOffset = 0 // attribute: guest TSC = host TSC + offset
)

// kvmXSaveSize is sizeof(struct kvm_xsave) without the flexible tail.
const kvmXSaveSize = 4096

// Model-specific registers.
const (
	msrEFER         = 0xC0000080
	msrSTAR         = 0xC0000081
	msrLSTAR        = 0xC0000082
	msrCSTAR        = 0xC0000083
	msrSFMASK       = 0xC0000084
	msrFSBase       = 0xC0000100
	msrGSBase       = 0xC0000101
	msrKernelGSBase = 0xC0000102
)

// KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the entry is specific to its Index.
const kvmCPUIDFlagSignificantIndex = 1
