package hvf

import "testing"

func TestAnalyzeCPUID(t *testing.T) {
	leaf := func(fn, idx, flags, eax, ebx, ecx, edx uint32) kvmCPUIDEntry2 {
		return kvmCPUIDEntry2{Function: fn, Index: idx, Flags: flags, EAX: eax, EBX: ebx, ECX: ecx, EDX: edx}
	}
	tests := []struct {
		name string
		es   []kvmCPUIDEntry2
		want cpuidInfo
	}{
		{
			name: "host with AVX-512 (XCR0 0xe7)",
			es: []kvmCPUIDEntry2{
				leaf(1, 0, 0, 0, 0, cpuidLeaf1ECXXSAVE|1<<28, 0),
				leaf(0xd, 1, kvmCPUIDFlagSignificantIndex, 0xf, 0, 0, 0),
				leaf(0xd, 0, kvmCPUIDFlagSignificantIndex, 0xe7, 0xa88, 0xa88, 0),
				leaf(7, 0, kvmCPUIDFlagSignificantIndex, 0, 0xf1bf07ab, 0, 0),
				leaf(0x80000008, 0, 0, 0x3030, 0, 0, 0),
			},
			want: cpuidInfo{xsave: true, xcr0: 0xe7, xsaveSize: 0xa88, fsgsbase: true, physBits: 48},
		},
		{
			name: "PVM-style stripped table: no XSAVE, no XCR0",
			es: []kvmCPUIDEntry2{
				leaf(1, 0, 0, 0, 0, 0x81202000, 0),
				leaf(7, 0, kvmCPUIDFlagSignificantIndex, 0, 0x01800002, 0, 0),
				leaf(0x80000008, 0, 0, 0x302e, 0, 0, 0),
			},
			want: cpuidInfo{physBits: 46},
		},
		{
			name: "XSAVE without leaf 0xD still enables x87|SSE",
			es:   []kvmCPUIDEntry2{leaf(1, 0, 0, 0, 0, cpuidLeaf1ECXXSAVE, 0)},
			want: cpuidInfo{xsave: true, xcr0: 3},
		},
	}
	for _, tc := range tests {
		if got := analyzeCPUID(tc.es); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestProbePicksMechanismFromCS(t *testing.T) {
	if m := probeExitMech(kvmSegment{Selector: selKernelCS}); !m.syscallInRing0() {
		t.Errorf("CS 0x10 at the syscall exit: got %v", m)
	}
	if m := probeExitMech(kvmSegment{Selector: selUserCS, DPL: 3}); m.syscallInRing0() {
		t.Errorf("CS 0x33 at the syscall exit: got %v", m)
	}
}
