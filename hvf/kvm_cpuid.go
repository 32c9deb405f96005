package hvf

// CPUID for the guest: KVM_GET_SUPPORTED_CPUID, fetched once per backend
// and given unchanged to every vCPU, like QEMU's "-cpu host". Ring-3 CPUID
// is native on PVM anyway (KVM-NOTES §5); on VMX/SVM this table is what the
// guest sees, and since it is KVM's own view of the host, XSAVE/AVX/AVX2/
// AVX-512 and leaf 0xD are consistent with what KVM_SET_XCRS accepts.

const (
	cpuidLeaf1ECXXSAVE    = 1 << 26
	cpuidLeaf7EBXFSGSBASE = 1 << 0
	xcr0X87               = 1 << 0
	xcr0SSE               = 1 << 1
)

// cpuidInfo is what the backend derives from the supported CPUID table.
type cpuidInfo struct {
	// xsave: leaf 1 advertises XSAVE, so CR4.OSXSAVE and XCR0 can be set.
	xsave bool
	// xcr0 is the XCR0 to load: every state component KVM supports and
	// the host enabled (leaf 0xD.0 EDX:EAX), at least x87|SSE.
	xcr0 uint64
	// xsaveSize is the XSAVE area size for xcr0 (leaf 0xD.0 EBX).
	xsaveSize uint32
	// fsgsbase: leaf 7 advertises RD/WRFSBASE, so CR4.FSGSBASE can be set
	// (as Linux 5.9+ does for user space).
	fsgsbase bool
	// physBits is the guest physical address width (leaf 0x80000008
	// EAX[7:0]); 0 if the table has no such leaf.
	physBits int
}

func findCPUID(es []kvmCPUIDEntry2, fn, index uint32) *kvmCPUIDEntry2 {
	for i := range es {
		e := &es[i]
		if e.Function != fn {
			continue
		}
		if e.Flags&kvmCPUIDFlagSignificantIndex != 0 && e.Index != index {
			continue
		}
		return e
	}
	return nil
}

func analyzeCPUID(es []kvmCPUIDEntry2) cpuidInfo {
	var ci cpuidInfo
	if e := findCPUID(es, 1, 0); e != nil {
		ci.xsave = e.ECX&cpuidLeaf1ECXXSAVE != 0
	}
	if ci.xsave {
		if e := findCPUID(es, 0xd, 0); e != nil {
			ci.xcr0 = uint64(e.EAX) | uint64(e.EDX)<<32
			ci.xsaveSize = e.EBX
		}
		ci.xcr0 |= xcr0X87 | xcr0SSE
	}
	if e := findCPUID(es, 7, 0); e != nil {
		ci.fsgsbase = e.EBX&cpuidLeaf7EBXFSGSBASE != 0
	}
	if e := findCPUID(es, 0x80000008, 0); e != nil {
		ci.physBits = int(e.EAX & 0xff)
	}
	return ci
}
