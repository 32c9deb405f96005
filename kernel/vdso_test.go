package kernel

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// vdsoLookup finds name in the image the way musl's __vdsosym does: program
// headers give the load bias and the dynamic section; DT_HASH's nchain is
// the symbol count; the symbol must be a defined FUNC, GLOBAL or WEAK, of
// the requested version (DT_VERSYM against DT_VERDEF).
func vdsoLookup(t *testing.T, img []byte, name, version string) (uint64, bool) {
	t.Helper()
	le := binary.LittleEndian
	if string(img[:4]) != "\x7fELF" || le.Uint16(img[16:]) != etDyn {
		t.Fatalf("not an ELF shared object")
	}
	phoff, phnum := le.Uint64(img[32:]), le.Uint16(img[56:])
	base, dyn := int64(-1), uint64(0)
	for i := uint64(0); i < uint64(phnum); i++ {
		p := img[phoff+56*i:]
		switch le.Uint32(p) {
		case ptLoad:
			base = int64(le.Uint64(p[8:])) - int64(le.Uint64(p[16:]))
		case ptDynamic:
			dyn = le.Uint64(p[8:])
		}
	}
	if base < 0 || dyn == 0 {
		t.Fatalf("image lacks PT_LOAD or PT_DYNAMIC")
	}
	var strtab, symtab, hash, versym, verdef uint64
	for d := img[dyn:]; le.Uint64(d) != dtNull; d = d[16:] {
		v := uint64(base) + le.Uint64(d[8:])
		switch le.Uint64(d) {
		case dtStrtab:
			strtab = v
		case dtSymtab:
			symtab = v
		case dtHash:
			hash = v
		case dtVersym:
			versym = v
		case dtVerdef:
			verdef = v
		}
	}
	if strtab == 0 || symtab == 0 || hash == 0 || versym == 0 || verdef == 0 {
		t.Fatalf("dynamic section incomplete: strtab %#x symtab %#x hash %#x versym %#x verdef %#x",
			strtab, symtab, hash, versym, verdef)
	}
	cstr := func(off uint64) string {
		end := off
		for img[end] != 0 {
			end++
		}
		return string(img[off:end])
	}
	// The version index that carries the requested name.
	vidx := -1
	for d := img[verdef:]; ; {
		if le.Uint16(d[2:])&verFlgBase == 0 && cstr(strtab+uint64(le.Uint32(d[le.Uint32(d[12:]):]))) == version {
			if le.Uint32(d[8:]) != elfHash(version) {
				t.Errorf("verdef hash of %s is %#x, want %#x", version, le.Uint32(d[8:]), elfHash(version))
			}
			vidx = int(le.Uint16(d[4:]))
		}
		next := le.Uint32(d[16:])
		if next == 0 {
			break
		}
		d = d[next:]
	}
	nchain := le.Uint32(img[hash+4:])
	for i := uint64(0); i < uint64(nchain); i++ {
		s := img[symtab+i*symSize:]
		info, shndx := s[4], le.Uint16(s[6:])
		if info&0xf != sttFunc || (info>>4 != stbGlobal && info>>4 != stbWeak) || shndx == 0 {
			continue
		}
		if cstr(strtab+uint64(le.Uint32(s))) != name {
			continue
		}
		if int(le.Uint16(img[versym+2*i:])&0x7fff) != vidx {
			continue
		}
		return uint64(base) + le.Uint64(s[8:]), true
	}
	return 0, false
}

func TestVDSOExportsEveryFunctionAtLinux26(t *testing.T) {
	img := vdsoImage()
	if len(img) != abi.PageSize {
		t.Fatalf("image is %d bytes, want one page", len(img))
	}
	for _, f := range vdsoFuncs {
		for _, name := range []string{"__vdso_" + f.name, f.name} {
			got, ok := vdsoLookup(t, img, name, vdsoVersion)
			if !ok || got != f.off {
				t.Errorf("lookup %s@%s = %#x, %v; want %#x", name, vdsoVersion, got, ok, f.off)
			}
		}
	}
	for _, miss := range []struct{ name, version string }{
		{"__vdso_clock_getres", vdsoVersion}, {"__vdso_clock_gettime", "LINUX_4.15"},
	} {
		if _, ok := vdsoLookup(t, img, miss.name, miss.version); ok {
			t.Errorf("lookup %s@%s found a symbol", miss.name, miss.version)
		}
	}
}

func TestVDSOHashChainsReachEverySymbol(t *testing.T) {
	// glibc walks DT_HASH buckets and chains rather than scanning.
	img := vdsoImage()
	le := binary.LittleEndian
	var hash, symtab, strtab uint64
	dyn := le.Uint64(img[64+56+8:])
	for d := img[dyn:]; le.Uint64(d) != dtNull; d = d[16:] {
		switch le.Uint64(d) {
		case dtHash:
			hash = le.Uint64(d[8:])
		case dtSymtab:
			symtab = le.Uint64(d[8:])
		case dtStrtab:
			strtab = le.Uint64(d[8:])
		}
	}
	nbucket := le.Uint32(img[hash:])
	for _, f := range vdsoFuncs {
		name := "__vdso_" + f.name
		found := false
		for i := le.Uint32(img[hash+8+4*uint64(elfHash(name)%nbucket):]); i != 0; i = le.Uint32(img[hash+8+4*uint64(nbucket)+4*uint64(i):]) {
			s := img[symtab+uint64(i)*symSize:]
			off := strtab + uint64(le.Uint32(s))
			if string(img[off:off+uint64(len(name))]) == name && img[off+uint64(len(name))] == 0 {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s is not on its hash chain", name)
		}
	}
}

func TestVDSOTextEntriesAreInsideTheCode(t *testing.T) {
	end := uint64(vdsoTextOff + len(vdsoText))
	for _, f := range vdsoFuncs {
		if f.off < vdsoTextOff || f.off+f.size > end {
			t.Errorf("%s [%#x,%#x) outside the code [%#x,%#x)", f.name, f.off, f.off+f.size, vdsoTextOff, end)
		}
	}
	// Each clock entry ends with the syscall fallback: mov eax, NR; syscall; ret.
	for _, c := range []struct {
		name string
		nr   uint32
	}{{"clock_gettime", abi.SYS_CLOCK_GETTIME}, {"gettimeofday", abi.SYS_GETTIMEOFDAY}, {"time", abi.SYS_TIME}, {"getcpu", abi.SYS_GETCPU}} {
		for _, f := range vdsoFuncs {
			if f.name != c.name {
				continue
			}
			code := vdsoText[f.off+f.size-8-vdsoTextOff : f.off+f.size-vdsoTextOff]
			if code[0] != 0xb8 || binary.LittleEndian.Uint32(code[1:]) != c.nr || code[5] != 0x0f || code[6] != 0x05 || code[7] != 0xc3 {
				t.Errorf("%s does not end with the syscall %d fallback: % x", c.name, c.nr, code)
			}
		}
	}
}

// guestMono computes CLOCK_MONOTONIC from the data page as the vDSO does.
func guestMono(c *vclock) int64 {
	le := binary.LittleEndian
	for {
		seq := c.load32(vvarSeq)
		if seq&1 != 0 {
			continue
		}
		a := anchor{tsc: le.Uint64(c.page[vvarTSCBase:]), mult: le.Uint64(c.page[vvarMult:]),
			mono: int64(le.Uint64(c.page[vvarMono:]))}
		v := a.at(rdtsc())
		if c.load32(vvarSeq) == seq {
			return v
		}
	}
}

func TestVclockIsMonotonicAndCloseToTheHost(t *testing.T) {
	if !tscUsable() {
		t.Skip("the host TSC is not invariant: the vDSO clocks stay on the syscall")
	}
	c := &vclock{page: make([]byte, vvarSize)}
	c.tsc0, c.mono0, _ = sample()
	time.Sleep(5 * time.Millisecond)
	c.update(5 * time.Millisecond)
	if c.load32(vvarMode) != 1 {
		t.Fatalf("data page not enabled after an update")
	}
	const tolerance = 20 * time.Microsecond // scheduling noise on shared CI machines
	prev := int64(0)
	worst := time.Duration(0)
	for round := 0; round < 8; round++ {
		for i := 0; i < 2000; i++ {
			before := nanotime()
			g := guestMono(c)
			after := nanotime()
			if g < prev {
				t.Fatalf("round %d: guest clock went back %d ns", round, prev-g)
			}
			prev = g
			if d := time.Duration(before - g); d > worst {
				worst = d
			}
			if d := time.Duration(g - after); d > worst {
				worst = d
			}
		}
		time.Sleep(2 * time.Millisecond)
		c.update(2 * time.Millisecond)
	}
	t.Logf("worst distance outside the host bracket: %v", worst)
	if worst > tolerance {
		t.Errorf("guest clock strayed %v from the host's, want <= %v", worst, tolerance)
	}
}

func TestAnchorAtClampsATSCBeforeTheAnchor(t *testing.T) {
	a := anchor{tsc: 1000, mono: 5000, mult: 1 << 32} // 1 ns per tick
	for _, c := range []struct {
		tsc  uint64
		want int64
	}{{1000, 5000}, {1500, 5500}, {999, 5000}, {0, 5000}} {
		if got := a.at(c.tsc); got != c.want {
			t.Errorf("at(%d) = %d, want %d", c.tsc, got, c.want)
		}
	}
}

func TestMapVDSOPlacesVvarAndImageAboveTheStack(t *testing.T) {
	m, err := NewMM(&fakeMachine{}, AddrLimit)
	if err != nil {
		t.Fatalf("NewMM: %v", err)
	}
	defer m.Close()
	at, err := m.mapVDSO()
	if err != nil || at != VdsoAddr {
		t.Fatalf("mapVDSO = %#x, %v; want %#x", uint64(at), err, uint64(VdsoAddr))
	}
	want := map[string]MapInfo{
		"[vvar]": {Start: VvarAddr, End: VvarAddr + abi.PageSize, Prot: hvf.ProtRead, Shared: true},
		"[vdso]": {Start: VdsoAddr, End: VdsoAddr + abi.PageSize, Prot: hvf.ProtRead | hvf.ProtExec},
	}
	for _, mi := range m.Maps() {
		w, ok := want[mi.Name]
		if !ok {
			continue
		}
		delete(want, mi.Name)
		if mi.Start != w.Start || mi.End != w.End || mi.Prot != w.Prot || mi.Shared != w.Shared {
			t.Errorf("%s = %+v, want %+v", mi.Name, mi, w)
		}
		if mi.Start <= StackTop {
			t.Errorf("%s at %#x is not above the stack top %#x", mi.Name, uint64(mi.Start), uint64(StackTop))
		}
	}
	for name := range want {
		t.Errorf("no %s mapping", name)
	}
	got := make([]byte, abi.PageSize)
	if _, err := m.CopyIn(VdsoAddr, got); err != nil {
		t.Fatalf("read the image back: %v", err)
	}
	if string(got) != string(vdsoImage()) {
		t.Errorf("guest [vdso] differs from the image")
	}
	// A machine that cannot vouch for the guest TSC gets a page that keeps
	// every call on the syscall.
	vvar := make([]byte, 8)
	if _, err := m.CopyIn(VvarAddr, vvar); err != nil {
		t.Fatalf("read [vvar]: %v", err)
	}
	if mode := binary.LittleEndian.Uint32(vvar[vvarMode:]); mode != 0 {
		t.Errorf("vvar mode on a fake machine = %d, want 0 (syscall)", mode)
	}
}

// A fork child maps its own guestproc's [vvar] page, not the parent's
// (which nobody refreshes once the parent exits); other regions keep
// their descriptors.
func TestForkChildMapsItsOwnVvar(t *testing.T) {
	own, err := vclockFor(&fakeMachine{})
	if err != nil {
		t.Skipf("no vDSO data page here: %v", err)
	}
	regions := []MapInfo{
		{Start: 0x400000, End: 0x401000, Name: "[vvar]", Fd: 7}, // not at VvarAddr
		{Start: VvarAddr, End: VvarAddr + abi.PageSize, Name: "[vvar]", Fd: 8},
		{Start: VdsoAddr, End: VdsoAddr + abi.PageSize, Name: "[vdso]", Fd: -1},
	}
	ownVvar(&fakeMachine{}, regions)
	if regions[1].Fd != own.fd {
		t.Errorf("[vvar] descriptor %d, want this guestproc's %d", regions[1].Fd, own.fd)
	}
	if regions[0].Fd != 7 || regions[2].Fd != -1 {
		t.Errorf("other regions changed: %+v", regions)
	}
}
