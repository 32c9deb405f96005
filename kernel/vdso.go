package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
)

// The vDSO: a one-page ELF shared object the kernel maps into every guest
// (AT_SYSINFO_EHDR), whose clock functions read the TSC and a data page
// ([vvar], the page just below it) instead of leaving the VM. A syscall exit
// costs tens of microseconds on both backends; rdtsc is native.
//
// Layout in the guest, above the stack as on Linux:
//
//	VvarAddr   [vvar]  data page, read-only to the guest (vdso_clock.go)
//	VdsoAddr   [vdso]  this image, read+exec
//
// The image is linked at address 0 and is position independent (the code
// reaches the data page RIP-relatively, at -PageSize from the image). It
// has what both C libraries need to find the functions:
//   - glibc (elf/setup-vdso.h, dl-vdso): program headers (PT_LOAD for the
//     load bias, PT_DYNAMIC), DT_STRTAB/DT_SYMTAB/DT_HASH, DT_SONAME,
//     DT_VERSYM+DT_VERDEF with the LINUX_2.6 version it asks for;
//   - musl (src/internal/vdso.c): PT_LOAD and PT_DYNAMIC, DT_HASH (its
//     nchain is the symbol count), symbols of FUNC type, GLOBAL or WEAK
//     binding and a defined section, checked against DT_VERDEF.
//
// Symbols, as in Linux's arch/x86/entry/vdso/vdso.lds.S: __vdso_X (global)
// and X (weak) for clock_gettime, gettimeofday, time and getcpu, all at
// version LINUX_2.6.

// Guest addresses of the data page and the image: inside the guard gap
// between StackTop and AddrLimit, so nothing else is ever placed there.
const (
	VvarAddr = StackTop + 16*abi.PageSize
	VdsoAddr = VvarAddr + abi.PageSize
)

// vdsoTextOff is where the code starts in the image; the bytes below were
// assembled for that address (the RIP-relative displacements depend on it).
const vdsoTextOff = 0x100

// vdsoText is the code, assembled for offset vdsoTextOff with the data page
// at -PageSize. readns returns in rax the nanoseconds of the clock whose
// base is at vvar+rcx (seqlock read; -1 when the data page says the TSC may
// not be used, or when the sequence stays odd for a million spins: a writer
// that died mid-update must not hang the guest). The exported functions
// fall back to the real syscall for every case the data page does not
// cover (other clocks, a timezone argument, TSC disabled). getcpu is exported because C libraries look for it, but
// takes the syscall: the kernel's answer follows the calling thread's
// affinity (sched_setaffinity), which a process-wide page cannot, and
// RDPID/RDTSCP are missing on some hosts (ours) and read a guest-owned
// TSC_AUX under KVM.
var vdsoText = []byte{
	// 0000000000000100 <readns>
	0x4c, 0x8d, 0x05, 0xf9, 0xee, 0xff, 0xff, //  100: lea r8,[rip+0xffffffffffffeef9]
	0x41, 0xba, 0x40, 0x42, 0x0f, 0x00, //  107: mov r10d,0xf4240
	0x45, 0x8b, 0x08, //  10d: mov r9d,DWORD PTR [r8]
	0x41, 0xf7, 0xc1, 0x01, 0x00, 0x00, 0x00, //  110: test r9d,0x1
	0x75, 0x2e, //  117: jne 147 <readns+0x47>
	0x41, 0x83, 0x78, 0x04, 0x00, //  119: cmp DWORD PTR [r8+0x4],0x0
	0x74, 0x30, //  11e: je 150 <readns+0x50>
	0x0f, 0xae, 0xe8, //  120: lfence
	0x0f, 0x31, //  123: rdtsc
	0x48, 0xc1, 0xe2, 0x20, //  125: shl rdx,0x20
	0x48, 0x09, 0xd0, //  129: or rax,rdx
	0x49, 0x2b, 0x40, 0x08, //  12c: sub rax,QWORD PTR [r8+0x8]
	0x79, 0x02, //  130: jns 134 <readns+0x34>
	0x31, 0xc0, //  132: xor eax,eax
	0x49, 0xf7, 0x60, 0x10, //  134: mul QWORD PTR [r8+0x10]
	0x48, 0x0f, 0xac, 0xd0, 0x20, //  138: shrd rax,rdx,0x20
	0x49, 0x03, 0x04, 0x08, //  13d: add rax,QWORD PTR [r8+rcx*1]
	0x45, 0x3b, 0x08, //  141: cmp r9d,DWORD PTR [r8]
	0x75, 0xc7, //  144: jne 10d <readns+0xd>
	0xc3,       //  146: ret
	0xf3, 0x90, //  147: pause
	0x41, 0xff, 0xca, //  149: dec r10d
	0x75, 0xbf, //  14c: jne 10d <readns+0xd>
	0xeb, 0x00, //  14e: jmp 150 <readns+0x50>
	0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, //  150: mov rax,0xffffffffffffffff
	0xc3, //  157: ret
	// 0000000000000158 <clock_gettime_>
	0x83, 0xff, 0x01, //  158: cmp edi,0x1
	0x77, 0x28, //  15b: ja 185 <clock_gettime_+0x2d>
	0x89, 0xf9, //  15d: mov ecx,edi
	0x8d, 0x0c, 0xcd, 0x20, 0x00, 0x00, 0x00, //  15f: lea ecx,[rcx*8+0x20]
	0xe8, 0x95, 0xff, 0xff, 0xff, //  166: call 100 <readns>
	0x48, 0x83, 0xf8, 0xff, //  16b: cmp rax,0xffffffffffffffff
	0x74, 0x14, //  16f: je 185 <clock_gettime_+0x2d>
	0x31, 0xd2, //  171: xor edx,edx
	0xb9, 0x00, 0xca, 0x9a, 0x3b, //  173: mov ecx,0x3b9aca00
	0x48, 0xf7, 0xf1, //  178: div rcx
	0x48, 0x89, 0x06, //  17b: mov QWORD PTR [rsi],rax
	0x48, 0x89, 0x56, 0x08, //  17e: mov QWORD PTR [rsi+0x8],rdx
	0x31, 0xc0, //  182: xor eax,eax
	0xc3,                         //  184: ret
	0xb8, 0xe4, 0x00, 0x00, 0x00, //  185: mov eax,0xe4
	0x0f, 0x05, //  18a: syscall
	0xc3, //  18c: ret
	// 000000000000018d <gettimeofday_>
	0x48, 0x85, 0xf6, //  18d: test rsi,rsi
	0x75, 0x36, //  190: jne 1c8 <gettimeofday_+0x3b>
	0x48, 0x85, 0xff, //  192: test rdi,rdi
	0x74, 0x31, //  195: je 1c8 <gettimeofday_+0x3b>
	0xb9, 0x20, 0x00, 0x00, 0x00, //  197: mov ecx,0x20
	0xe8, 0x5f, 0xff, 0xff, 0xff, //  19c: call 100 <readns>
	0x48, 0x83, 0xf8, 0xff, //  1a1: cmp rax,0xffffffffffffffff
	0x74, 0x21, //  1a5: je 1c8 <gettimeofday_+0x3b>
	0x31, 0xd2, //  1a7: xor edx,edx
	0xb9, 0x00, 0xca, 0x9a, 0x3b, //  1a9: mov ecx,0x3b9aca00
	0x48, 0xf7, 0xf1, //  1ae: div rcx
	0x48, 0x89, 0x07, //  1b1: mov QWORD PTR [rdi],rax
	0x48, 0x89, 0xd0, //  1b4: mov rax,rdx
	0x31, 0xd2, //  1b7: xor edx,edx
	0xb9, 0xe8, 0x03, 0x00, 0x00, //  1b9: mov ecx,0x3e8
	0x48, 0xf7, 0xf1, //  1be: div rcx
	0x48, 0x89, 0x47, 0x08, //  1c1: mov QWORD PTR [rdi+0x8],rax
	0x31, 0xc0, //  1c5: xor eax,eax
	0xc3,                         //  1c7: ret
	0xb8, 0x60, 0x00, 0x00, 0x00, //  1c8: mov eax,0x60
	0x0f, 0x05, //  1cd: syscall
	0xc3, //  1cf: ret
	// 00000000000001d0 <time_>
	0xb9, 0x20, 0x00, 0x00, 0x00, //  1d0: mov ecx,0x20
	0xe8, 0x26, 0xff, 0xff, 0xff, //  1d5: call 100 <readns>
	0x48, 0x83, 0xf8, 0xff, //  1da: cmp rax,0xffffffffffffffff
	0x74, 0x13, //  1de: je 1f3 <time_+0x23>
	0x31, 0xd2, //  1e0: xor edx,edx
	0xb9, 0x00, 0xca, 0x9a, 0x3b, //  1e2: mov ecx,0x3b9aca00
	0x48, 0xf7, 0xf1, //  1e7: div rcx
	0x48, 0x85, 0xff, //  1ea: test rdi,rdi
	0x74, 0x03, //  1ed: je 1f2 <time_+0x22>
	0x48, 0x89, 0x07, //  1ef: mov QWORD PTR [rdi],rax
	0xc3,                         //  1f2: ret
	0xb8, 0xc9, 0x00, 0x00, 0x00, //  1f3: mov eax,0xc9
	0x0f, 0x05, //  1f8: syscall
	0xc3, //  1fa: ret
	// 00000000000001fb <getcpu_>: always the syscall (see above)
	0xb8, 0x35, 0x01, 0x00, 0x00, //  1fb: mov eax,0x135
	0x0f, 0x05, //  200: syscall
	0xc3, //  202: ret
}

// Entry points in vdsoText (offsets in the image).
var vdsoFuncs = []struct {
	name      string
	off, size uint64
}{
	{"clock_gettime", 0x158, 0x18d - 0x158},
	{"gettimeofday", 0x18d, 0x1d0 - 0x18d},
	{"time", 0x1d0, 0x1fb - 0x1d0},
	{"getcpu", 0x1fb, 0x203 - 0x1fb},
}

const (
	vdsoSoname  = "linux-vdso.so.1"
	vdsoVersion = "LINUX_2.6"
)

// ELF constants used by the image (their Linux spellings live in debug/elf;
// kernel/abi has the ones the loader needs).
const (
	etDyn       = 3
	emX86_64    = 62
	ptLoad      = 1
	ptDynamic   = 2
	pfX         = 1
	pfR         = 4
	stbGlobal   = 1
	stbWeak     = 2
	sttFunc     = 2
	verFlgBase  = 1
	dtNull      = 0
	dtHash      = 4
	dtStrtab    = 5
	dtSymtab    = 6
	dtStrsz     = 10
	dtSyment    = 11
	dtSoname    = 14
	dtVersym    = 0x6ffffff0
	dtVerdef    = 0x6ffffffc
	dtVerdefnum = 0x6ffffffd
	symSize     = 24
	// vdsoTextShndx is the st_shndx of every symbol: any defined section
	// (the image has no section headers; C libraries only check that the
	// symbol is not SHN_UNDEF).
	vdsoTextShndx = 1
)

// elfHash is the SysV ELF hash (DT_HASH, vd_hash).
func elfHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
		}
		h &^= 0xf0000000
	}
	return h
}

// vdsoImage builds the image: one page.
func vdsoImage() []byte {
	img := make([]byte, abi.PageSize)
	le := binary.LittleEndian
	copy(img[vdsoTextOff:], vdsoText)
	at := align(uint64(vdsoTextOff+len(vdsoText)), 8)

	// String table.
	strtab := []byte{0}
	str := func(s string) uint32 {
		off := uint32(len(strtab))
		strtab = append(strtab, s...)
		strtab = append(strtab, 0)
		return off
	}
	sonameOff, versionOff := str(vdsoSoname), str(vdsoVersion)
	type sym struct {
		name       uint32
		info       byte
		value, sz  uint64
		hashedName string
	}
	syms := []sym{{}} // index 0: the undefined symbol
	for _, f := range vdsoFuncs {
		g := "__vdso_" + f.name
		syms = append(syms,
			sym{str(g), stbGlobal<<4 | sttFunc, f.off, f.size, g},
			sym{str(f.name), stbWeak<<4 | sttFunc, f.off, f.size, f.name})
	}

	// DT_HASH: nbucket, nchain, buckets, chains.
	hashOff := at
	nbucket := uint32(3)
	nsym := uint32(len(syms))
	buckets := make([]uint32, nbucket)
	chains := make([]uint32, nsym)
	for i := uint32(1); i < nsym; i++ {
		b := elfHash(syms[i].hashedName) % nbucket
		chains[i] = buckets[b]
		buckets[b] = i
	}
	le.PutUint32(img[at:], nbucket)
	le.PutUint32(img[at+4:], nsym)
	at += 8
	for _, v := range append(buckets, chains...) {
		le.PutUint32(img[at:], v)
		at += 4
	}

	// Symbol table.
	at = align(at, 8)
	symOff := at
	for _, s := range syms {
		le.PutUint32(img[at:], s.name)
		img[at+4] = s.info
		if s.name != 0 {
			le.PutUint16(img[at+6:], vdsoTextShndx)
		}
		le.PutUint64(img[at+8:], s.value)
		le.PutUint64(img[at+16:], s.sz)
		at += symSize
	}

	// Versions: every defined symbol is LINUX_2.6 (index 2); index 1 is
	// the base definition naming the object itself.
	versymOff := at
	for i := range syms {
		v := uint16(2)
		if i == 0 {
			v = 0
		}
		le.PutUint16(img[at:], v)
		at += 2
	}
	at = align(at, 4)
	verdefOff := at
	for i, d := range []struct {
		flags, ndx uint16
		name       string
		nameOff    uint32
	}{{verFlgBase, 1, vdsoSoname, sonameOff}, {0, 2, vdsoVersion, versionOff}} {
		le.PutUint16(img[at:], 1) // vd_version
		le.PutUint16(img[at+2:], d.flags)
		le.PutUint16(img[at+4:], d.ndx)
		le.PutUint16(img[at+6:], 1) // vd_cnt
		le.PutUint32(img[at+8:], elfHash(d.name))
		le.PutUint32(img[at+12:], 20) // vd_aux: right after
		if i == 0 {
			le.PutUint32(img[at+16:], 28) // vd_next
		}
		le.PutUint32(img[at+20:], d.nameOff) // vda_name
		at += 28
	}

	strOff := at
	copy(img[at:], strtab)
	at += uint64(len(strtab))

	at = align(at, 8)
	dynOff := at
	for _, d := range [][2]uint64{
		{dtHash, hashOff}, {dtStrtab, strOff}, {dtSymtab, symOff},
		{dtStrsz, uint64(len(strtab))}, {dtSyment, symSize}, {dtSoname, uint64(sonameOff)},
		{dtVersym, versymOff}, {dtVerdef, verdefOff}, {dtVerdefnum, 2}, {dtNull, 0},
	} {
		le.PutUint64(img[at:], d[0])
		le.PutUint64(img[at+8:], d[1])
		at += 16
	}
	if at > abi.PageSize {
		panic("kernel: vDSO image does not fit in a page")
	}

	// ELF header and program headers.
	copy(img, "\x7fELF")
	img[4], img[5], img[6] = 2, 1, 1 // ELFCLASS64, little endian, EV_CURRENT
	le.PutUint16(img[16:], etDyn)
	le.PutUint16(img[18:], emX86_64)
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[32:], 64) // e_phoff
	le.PutUint16(img[52:], 64) // e_ehsize
	le.PutUint16(img[54:], 56) // e_phentsize
	le.PutUint16(img[56:], 2)  // e_phnum
	le.PutUint16(img[58:], 64) // e_shentsize
	ph := func(i int, typ, flags uint32, off, size, alignment uint64) {
		p := img[64+56*i:]
		le.PutUint32(p, typ)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[8:], off)   // p_offset
		le.PutUint64(p[16:], off)  // p_vaddr
		le.PutUint64(p[24:], off)  // p_paddr
		le.PutUint64(p[32:], size) // p_filesz
		le.PutUint64(p[40:], size) // p_memsz
		le.PutUint64(p[48:], alignment)
	}
	ph(0, ptLoad, pfR|pfX, 0, abi.PageSize, abi.PageSize)
	ph(1, ptDynamic, pfR, dynOff, at-dynOff, 8)
	return img
}

func align(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
