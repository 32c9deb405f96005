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

func TestMergeHostXSAVEMakesAStrippedTableConsistent(t *testing.T) {
	stripped := func() *kvmCPUID2 {
		c := &kvmCPUID2{}
		n := copy(c.Entries[:], []kvmCPUIDEntry2{
			{Function: 0, EAX: 0x10},
			{Function: 1, ECX: 0x81202000},
			{Function: 7, Index: 0, Flags: kvmCPUIDFlagSignificantIndex, EBX: 0x01800002},
			{Function: 0x80000008, EAX: 0x3030},
		})
		c.Nent = uint32(n)
		return c
	}
	avx512 := hostFeatures{osxsave: true, avx: true, avx2: true, fma: true, f16c: true,
		avx512f: true, avx512dq: true, avx512cd: true, avx512bw: true, vl: true}
	tests := []struct {
		name      string
		host      hostFeatures
		changed   bool
		want      cpuidInfo
		leaf7EBX  uint32
		leaf1ECX  uint32
		subleaves []uint32
	}{
		{"AVX-512 host (KVM-NOTES: XCR0 0xe7)", avx512, true,
			cpuidInfo{xsave: true, xcr0: 0xe7, xsaveSize: 2688, physBits: 48},
			0x01800002 | leaf7EBXAVX2 | leaf7EBXAVX512F | leaf7EBXAVX512DQ | leaf7EBXAVX512CD | leaf7EBXAVX512BW | leaf7EBXAVX512VL,
			0x81202000 | cpuidLeaf1ECXXSAVE | leaf1ECXAVX | leaf1ECXFMA | leaf1ECXF16C,
			[]uint32{0, 1, 2, 5, 6, 7}},
		{"AVX2 host", hostFeatures{osxsave: true, avx: true, avx2: true}, true,
			cpuidInfo{xsave: true, xcr0: 0x7, xsaveSize: 832, physBits: 48},
			0x01800002 | leaf7EBXAVX2, 0x81202000 | cpuidLeaf1ECXXSAVE | leaf1ECXAVX,
			[]uint32{0, 1, 2}},
		{"host without OSXSAVE: unchanged", hostFeatures{}, false,
			cpuidInfo{physBits: 48}, 0x01800002, 0x81202000, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := stripped()
			if got := mergeHostXSAVE(c, tc.host); got != tc.changed {
				t.Fatalf("changed = %v", got)
			}
			es := c.Entries[:c.Nent]
			if got := analyzeCPUID(es); got != tc.want {
				t.Errorf("info %+v, want %+v", got, tc.want)
			}
			if e := findCPUID(es, 7, 0); e.EBX != tc.leaf7EBX {
				t.Errorf("leaf 7 ebx %#x, want %#x", e.EBX, tc.leaf7EBX)
			}
			if e := findCPUID(es, 1, 0); e.ECX != tc.leaf1ECX {
				t.Errorf("leaf 1 ecx %#x, want %#x", e.ECX, tc.leaf1ECX)
			}
			var subs []uint32
			for _, e := range es {
				if e.Function == 0xd {
					subs = append(subs, e.Index)
					if e.Flags&kvmCPUIDFlagSignificantIndex == 0 {
						t.Errorf("leaf 0xD.%d without the significant-index flag", e.Index)
					}
				}
			}
			if len(subs) != len(tc.subleaves) {
				t.Fatalf("leaf 0xD subleaves %v, want %v", subs, tc.subleaves)
			}
			for i := range subs {
				if subs[i] != tc.subleaves[i] {
					t.Errorf("leaf 0xD subleaves %v, want %v", subs, tc.subleaves)
				}
			}
			if tc.changed {
				if zmm := findCPUID(es, 0xd, 6); zmm != nil && (zmm.EAX != 512 || zmm.EBX != 1152) {
					t.Errorf("ZMM_Hi256 size/offset %d/%d", zmm.EAX, zmm.EBX)
				}
				if e := findCPUID(es, 0, 0); e.EAX < 0xd {
					t.Errorf("max basic leaf %#x hides leaf 0xD", e.EAX)
				}
			}
		})
	}
}

func TestMergeHostXSAVELeavesAFullTableAlone(t *testing.T) {
	c := &kvmCPUID2{Nent: 2}
	c.Entries[0] = kvmCPUIDEntry2{Function: 1, ECX: cpuidLeaf1ECXXSAVE}
	c.Entries[1] = kvmCPUIDEntry2{Function: 0xd, Flags: kvmCPUIDFlagSignificantIndex, EAX: 0x2e7}
	before := *c
	if mergeHostXSAVE(c, hostFeatures{osxsave: true, avx: true}) || *c != before {
		t.Error("a table that has XSAVE was changed")
	}
}
