package hvf

import "golang.org/x/sys/cpu"

// CPUID for the guest: KVM_GET_SUPPORTED_CPUID, fetched once per backend
// and given to every vCPU, like QEMU's "-cpu host". On VMX/SVM this table is
// what the guest sees, and since it is KVM's own view of the host, XSAVE/
// AVX/AVX2/AVX-512 and leaf 0xD are consistent with what KVM_SET_XCRS
// accepts. PVM strips XSAVE from it while ring-3 CPUID stays native
// (KVM-NOTES §5); mergeHostXSAVE puts the host's vector state back.

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

// hostFeatures are the host's XSAVE-managed vector features, as the Go
// runtime's CPUID/XGETBV probe (golang.org/x/sys/cpu) sees them: a feature
// counts only if the host OS enabled its state in XCR0.
type hostFeatures struct {
	osxsave, avx, avx2, fma, f16c             bool
	avx512f, avx512dq, avx512cd, avx512bw, vl bool
}

func hostFeaturesNow() hostFeatures {
	x := &cpu.X86
	return hostFeatures{
		osxsave: x.HasOSXSAVE, avx: x.HasAVX, avx2: x.HasAVX2, fma: x.HasFMA, f16c: x.HasF16C,
		avx512f: x.HasAVX512F && x.HasAVX512, avx512dq: x.HasAVX512DQ, avx512cd: x.HasAVX512CD,
		avx512bw: x.HasAVX512BW, vl: x.HasAVX512VL,
	}
}

// Standard-format XSAVE layout of the components merged below (Intel SDM
// vol. 1 §13.4; fixed offsets, the same on AMD).
var xsaveComponents = []struct {
	bit          uint
	size, offset uint32
}{
	{2, 256, 576},   // AVX: upper halves of ymm0-15
	{5, 64, 1088},   // AVX-512 opmask k0-7
	{6, 512, 1152},  // AVX-512 upper halves of zmm0-15
	{7, 1024, 1664}, // AVX-512 zmm16-31
}

// CPUID bits set by mergeHostXSAVE.
const (
	leaf1ECXFMA  = 1 << 12
	leaf1ECXAVX  = 1 << 28
	leaf1ECXF16C = 1 << 29

	leaf7EBXAVX2     = 1 << 5
	leaf7EBXAVX512F  = 1 << 16
	leaf7EBXAVX512DQ = 1 << 17
	leaf7EBXAVX512CD = 1 << 28
	leaf7EBXAVX512BW = 1 << 30
	leaf7EBXAVX512VL = 1 << 31
)

// mergeHostXSAVE makes a supported-CPUID table that lacks XSAVE (PVM
// strips it: KVM-NOTES §5) consistent with the host: XSAVE, AVX, AVX2 and
// AVX-512 bits and leaf 0xD for the state the host enabled. Guest ring 3
// sees the host's CPUID and XCR0 anyway on PVM; the table matters for what
// KVM accepts (CR4.OSXSAVE, XCR0) and for the state KVM_GET_XSAVE returns
// (KVM limits it to the guest's leaf-0xD features). It reports whether it
// changed the table.
func mergeHostXSAVE(c *kvmCPUID2, h hostFeatures) bool {
	es := c.Entries[:c.Nent]
	if !h.osxsave || analyzeCPUID(es).xsave {
		return false
	}
	xcr0 := uint64(xcr0X87 | xcr0SSE)
	if h.avx {
		xcr0 |= 1 << 2
	}
	if h.avx && h.avx512f {
		xcr0 |= 1<<5 | 1<<6 | 1<<7
	}
	size := uint32(576) // legacy area + XSAVE header
	var sub []kvmCPUIDEntry2
	for _, comp := range xsaveComponents {
		if xcr0&(1<<comp.bit) == 0 {
			continue
		}
		size = max(size, comp.offset+comp.size)
		sub = append(sub, kvmCPUIDEntry2{Function: 0xd, Index: uint32(comp.bit), Flags: kvmCPUIDFlagSignificantIndex,
			EAX: comp.size, EBX: comp.offset})
	}
	if int(c.Nent)+len(sub)+3 > kvmCPUIDMax {
		return false
	}
	if e := findCPUID(es, 0, 0); e != nil && e.EAX < 0xd {
		e.EAX = 0xd
	}
	if e := findCPUID(es, 1, 0); e != nil {
		e.ECX |= cpuidLeaf1ECXXSAVE
		if h.avx {
			e.ECX |= leaf1ECXAVX
		}
		if h.fma {
			e.ECX |= leaf1ECXFMA
		}
		if h.f16c {
			e.ECX |= leaf1ECXF16C
		}
	}
	if e := findCPUID(es, 7, 0); e != nil && h.avx {
		e.EBX |= bit(h.avx2, leaf7EBXAVX2)
		if h.avx512f {
			e.EBX |= leaf7EBXAVX512F | bit(h.avx512dq, leaf7EBXAVX512DQ) |
				bit(h.avx512cd, leaf7EBXAVX512CD) | bit(h.avx512bw, leaf7EBXAVX512BW) |
				bit(h.vl, leaf7EBXAVX512VL)
		}
	}
	// Replace leaf 0xD.
	n := 0
	for _, e := range es {
		if e.Function != 0xd {
			c.Entries[n] = e
			n++
		}
	}
	add := append([]kvmCPUIDEntry2{
		{Function: 0xd, Index: 0, Flags: kvmCPUIDFlagSignificantIndex,
			EAX: uint32(xcr0), EBX: size, ECX: size, EDX: uint32(xcr0 >> 32)},
		{Function: 0xd, Index: 1, Flags: kvmCPUIDFlagSignificantIndex},
	}, sub...)
	n += copy(c.Entries[n:], add)
	c.Nent = uint32(n)
	return true
}

func bit(on bool, v uint32) uint32 {
	if on {
		return v
	}
	return 0
}
