package hvf

import (
	"encoding/binary"
	"testing"
)

func TestGDTHasLinuxLayout(t *testing.T) {
	b := make([]byte, gdtEntries*8)
	buildGDT(b, 0x3000)
	want := []uint64{
		0,
		0x00cf9b000000ffff, // 0x08 kernel CS32
		0x00af9b000000ffff, // 0x10 kernel CS64
		0x00cf93000000ffff, // 0x18 kernel DS
		0x00cffb000000ffff, // 0x23 user CS32
		0x00cff3000000ffff, // 0x2b user DS
		0x00affb000000ffff, // 0x33 user CS64
		0,
		0x00008b0030000067, // 0x40 TSS: base 0x3000, limit 0x67, busy
		0,
	}
	for i, w := range want {
		if got := binary.LittleEndian.Uint64(b[i*8:]); got != w {
			t.Errorf("GDT[%d] = %#016x, want %#016x", i, got, w)
		}
	}
	if gdtLimit != 79 {
		t.Errorf("GDT limit %d, want 79", gdtLimit)
	}
}

// decodeTSSDescriptor reverses tssDescriptor for the test.
func decodeTSSDescriptor(lo, hi uint64) (base uint64, limit uint32, typ, dpl, present uint8) {
	base = lo>>16&0xffffff | (lo>>56&0xff)<<24 | hi<<32
	limit = uint32(lo&0xffff) | uint32(lo>>48&0xf)<<16
	typ = uint8(lo >> 40 & 0xf)
	dpl = uint8(lo >> 45 & 3)
	present = uint8(lo >> 47 & 1)
	return
}

func TestTSSDescriptorCarriesA64BitBase(t *testing.T) {
	for _, base := range []uint64{0x3000, 0x400000123000, 0xffff_8000_dead_b000} {
		lo, hi := tssDescriptor(base, tssLimit)
		gb, gl, typ, dpl, p := decodeTSSDescriptor(lo, hi)
		if gb != base || gl != tssLimit || typ != 0xb || dpl != 0 || p != 1 {
			t.Errorf("base %#x: decoded base %#x limit %#x type %#x dpl %d p %d", base, gb, gl, typ, dpl, p)
		}
	}
}

func TestTSSFields(t *testing.T) {
	b := make([]byte, tssSize)
	buildTSS(b, 0x400000005000, 0x400000004000)
	le := binary.LittleEndian
	if got := le.Uint64(b[4:]); got != 0x400000005000 {
		t.Errorf("RSP0 = %#x", got)
	}
	if got := le.Uint64(b[0x24:]); got != 0x400000004000 {
		t.Errorf("IST1 = %#x", got)
	}
	if got := le.Uint16(b[0x66:]); got != 0x68 {
		t.Errorf("I/O map base = %#x, want 0x68 (no bitmap)", got)
	}
}

func TestIDTGateEncoding(t *testing.T) {
	lo, hi := idtGate(0x400000000040, selKernelCS, 0, gateIntDPL0)
	if lo != 0x00008e0000100040 || hi != 0x4000 {
		t.Errorf("gate = %#016x %#016x", lo, hi)
	}
	lo, _ = idtGate(0x1234_5678, selKernelCS, 1, gateIntDPL3)
	if lo != 0x1234_ee01_0010_5678 {
		t.Errorf("DPL3 IST1 gate lo = %#016x", lo)
	}
}

func TestControlRegistersMatchNotes(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"cr0", guestCR0, 0x80050033},
		{"cr4 with xsave", guestCR4(true, false), 0x40620},
		{"cr4 with xsave and fsgsbase", guestCR4(true, true), 0x50620},
		{"cr4 without either", guestCR4(false, false), 0x620},
		{"efer", guestEFER, 0xd01},
		{"star", starMSR, 0x0023001000000000},
		{"sfmask", sfmaskMSR, 0x47700},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func TestUserRFLAGSKeepsUserBitsAndForcesIF(t *testing.T) {
	tests := []struct {
		in, want uint64
	}{
		{0, 0x202},
		{0x246, 0x246},
		{0x3000 | 0x202, 0x202},              // IOPL dropped
		{0x10000 | 0x4000 | 0x202, 0x202},    // RF, NT dropped
		{0x20000 | 0x202, 0x202},             // VM dropped
		{0x40000 | 0x200000 | 0x1, 0x240203}, // AC, ID, CF kept
		{0x100 | 0x400, 0x702},               // TF, DF kept
	}
	for _, tc := range tests {
		if got := userRFLAGS(tc.in); got != tc.want {
			t.Errorf("userRFLAGS(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

func TestCanonicalAddresses(t *testing.T) {
	tests := []struct {
		v    uint64
		want bool
	}{
		{0, true},
		{0x7fff_ffff_ffff, true},
		{0x8000_0000_0000, false},
		{0xffff_8000_0000_0000, true},
		{0xfffe_ffff_ffff_ffff, false},
		{0xffff_ffff_ffff_ffff, true},
	}
	for _, tc := range tests {
		if got := canonical(tc.v); got != tc.want {
			t.Errorf("canonical(%#x) = %v", tc.v, got)
		}
	}
}

func TestSegmentsForRing3(t *testing.T) {
	cs := userCodeSegment()
	if cs.Selector != 0x33 || cs.DPL != 3 || cs.L != 1 || cs.DB != 0 || cs.Type != 11 || cs.S != 1 || cs.Present != 1 {
		t.Errorf("CS = %+v", cs)
	}
	ss := userDataSegment(selUserDS)
	if ss.Selector != 0x2b || ss.DPL != 3 || ss.Type != 3 || ss.DB != 1 {
		t.Errorf("SS = %+v", ss)
	}
	tr := tssSegment(0x400000003100)
	if tr.Selector != 0x40 || tr.Type != 11 || tr.Limit != 0x67 || tr.S != 0 || tr.Base != 0x400000003100 {
		t.Errorf("TR = %+v", tr)
	}
	if ldt := unusableLDT(); ldt.Unusable != 1 {
		t.Errorf("LDT = %+v", ldt)
	}
}
