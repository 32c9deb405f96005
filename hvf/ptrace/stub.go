package ptrace

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// The stub is the host process the guest runs in. Its image is a tiny static
// ELF generated here, placed far above every guest address so that the guest
// range [0x10000, AddrLimit) is empty in it:
//
//	stubBase         ELF header, program headers, code (R+X)
//	  +codeOff       entry: int3; jmp entry   (parks the stub if resumed there)
//	  +gadgetOff     syscall; int3            (target of injected syscalls)
//	  +cloneOff      the clone gadget         (starts a stub thread, thread.go)
//	  +fpTrampOff    the FP trampoline        (loads an FP image, fptramp.go)
//	  +batchOff      the batch gadget         (runs a table of syscalls)
//	  +helperOff     the helper thread's code (runs tables on request, helper.go)
//	stubBase+page    the in-area, read-only in the stub (stubdata.go):
//	                 scratch page: paths and structures injected calls read
//	  +page          batch table: batchMax entries of 64 bytes
//	  +3 pages       batch strings: paths the batch's openat calls use
//	stubBase+5 pages the out-area, writable: the batch's results, the
//	                 structures injected calls fill in (recvmsg, timer_create)
//	  +page          FP slots, then the FP area: the trampoline's saved
//	                 registers and the XSAVE image it loads
//
// The stub never runs code of its own: the tracer stops it at exec, unmaps
// everything else the host kernel gave it (stack, vDSO, vvar), and from then
// on only guest code and injected syscalls execute in it.
//
// Guest code runs in the stub's address space, so it can store anywhere the
// stub can, and with threads it runs while another stub thread executes an
// injected call. What an injected call reads (its number, arguments, paths)
// therefore lies in the in-area, which the tracer writes through a mapping of
// its own (stubdata.go); guest stores there fault as they would natively.
const (
	stubBase    = 0x5000_0000_0000
	pageSize    = 0x1000
	codeOff     = 0x100
	gadgetOff   = 0x110
	cloneOff    = 0x180
	fpTrampOff  = 0x1a0
	batchOff    = 0x200
	scratchAddr = stubBase + pageSize
	stubSize    = 10 * pageSize
	stubEntry   = stubBase + codeOff
	gadgetAddr  = stubBase + gadgetOff
	// gadgetTrapRIP is RIP after the gadget's int3 has trapped.
	gadgetTrapRIP = gadgetAddr + 3

	batchAddr    = stubBase + batchOff
	batchTable   = scratchAddr + pageSize
	batchStrings = batchTable + 2*pageSize
	// batchMax is how many entries the table holds.
	batchMax = 2 * pageSize / batchEntrySize
	// batchEntrySize is the size of one table entry: the syscall number,
	// six arguments, and a link word (see batch.go).
	batchEntrySize = 64

	// inAreaSize is the size of the in-area (scratch page, table,
	// strings), outAddr where the out-area begins.
	inAreaSize = 4 * pageSize
	outAddr    = scratchAddr + inAreaSize
	// batchResults holds the batch's results, one word an entry.
	batchResults = outAddr

	fpTrampAddr = stubBase + fpTrampOff
	// fpSlots holds the guest's RAX, RDX and RIP for the trampoline;
	// fpArea (XSAVE needs 64-byte alignment) the image, up to fpAreaMax
	// bytes (AMX's 11 KiB fit).
	fpSlots   = outAddr + pageSize
	fpArea    = fpSlots + 64
	fpAreaMax = stubBase + stubSize - fpArea
)

// batchCode is the batch gadget. The tracer sets RBX to the table, RBP to
// the number of entries, R13 and R14 to the results and R12 to nonzero to
// stop at the first error; the gadget runs the entries in order, stores
// each result at R14, and stops at an int3 with RBX past the last entry it
// ran. It reads the table into registers only: nothing it passes to a
// syscall comes from memory guest code can write (the results are there,
// but a link only ever passes one as a descriptor, and every descriptor
// the stub holds is one its guest may use).
//
//	1:  test rbp, rbp
//	    jz 9f
//	    mov rax, [rbx]
//	    mov rdi, [rbx+8] ... mov r9, [rbx+48]
//	    mov rcx, [rbx+56]        ; link: arg index+1 | source entry << 8
//	    test rcx, rcx
//	    jz 8f
//	    mov r11, rcx
//	    shr r11, 8
//	    mov r11, [r13+r11*8]     ; the source entry's result
//	    cmp cl, 1
//	    cmove rdi, r11 ... (2 rsi, 3 rdx, 4 r10, 5 r8, 6 r9)
//	8:  syscall
//	    mov [r14], rax
//	    add r14, 8
//	    add rbx, 64
//	    dec rbp
//	    cmp rax, -4095
//	    jb 1b                    ; success: next entry
//	    test r12, r12
//	    jz 1b                    ; error, but go on
//	9:  int3
var batchCode = []byte{
	0x48, 0x85, 0xed, 0x74, 0x77, 0x48, 0x8b, 0x03, 0x48, 0x8b, 0x7b, 0x08,
	0x48, 0x8b, 0x73, 0x10, 0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20,
	0x4c, 0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30, 0x48, 0x8b, 0x4b, 0x38,
	0x48, 0x85, 0xc9, 0x74, 0x36, 0x49, 0x89, 0xcb, 0x49, 0xc1, 0xeb, 0x08,
	0x4f, 0x8b, 0x5c, 0xdd, 0x00, 0x80, 0xf9, 0x01, 0x49, 0x0f, 0x44, 0xfb,
	0x80, 0xf9, 0x02, 0x49, 0x0f, 0x44, 0xf3, 0x80, 0xf9, 0x03, 0x49, 0x0f,
	0x44, 0xd3, 0x80, 0xf9, 0x04, 0x4d, 0x0f, 0x44, 0xd3, 0x80, 0xf9, 0x05,
	0x4d, 0x0f, 0x44, 0xc3, 0x80, 0xf9, 0x06, 0x4d, 0x0f, 0x44, 0xcb, 0x0f,
	0x05, 0x49, 0x89, 0x06, 0x49, 0x83, 0xc6, 0x08, 0x48, 0x83, 0xc3, 0x40,
	0x48, 0xff, 0xcd, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x72, 0x89, 0x4d,
	0x85, 0xe4, 0x74, 0x84, 0xcc,
}

const (
	// batchSyscallOff is the offset of the batch gadget's syscall.
	batchSyscallOff = 0x5f
	// batchTrapRIP is RIP after the batch gadget's int3 has trapped.
	batchTrapRIP = batchAddr + 0x7d
)

// ELF structures and constants of the stub image, spelled as in elf(5). They
// are written out here rather than taken from debug/elf, whose compression
// dependencies (zlib, zstd) would otherwise be linked into, and initialised
// at every start of, the elfuse binary.
type elfHeader64 struct {
	Ident                                                [16]byte
	Type, Machine                                        uint16
	Version                                              uint32
	Entry, Phoff, Shoff                                  uint64
	Flags                                                uint32
	Ehsize, Phentsize, Phnum, Shentsize, Shnum, Shstrndx uint16
}

type elfProg64 struct {
	Type, Flags                             uint32
	Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
}

const (
	etExec     = 2
	emX86_64   = 62
	evCurrent  = 1
	ptLoad     = 1
	ptGNUStack = 0x6474e551
	pfX        = 1
	pfW        = 2
	pfR        = 4
)

// stubImage returns the bytes of the stub executable.
func stubImage() []byte {
	img := make([]byte, stubSize)
	for i := range img[:pageSize] {
		img[i] = 0xcc // int3 everywhere a stray jump could land
	}
	hdr := elfHeader64{
		Type:      etExec,
		Machine:   emX86_64,
		Version:   evCurrent,
		Entry:     stubEntry,
		Phoff:     64,
		Ehsize:    64,
		Phentsize: 56,
		Phnum:     3,
		Shentsize: 64,
	}
	copy(hdr.Ident[:], "\x7fELF")
	hdr.Ident[4] = 2 // ELFCLASS64
	hdr.Ident[5] = 1 // ELFDATA2LSB
	hdr.Ident[6] = evCurrent
	progs := []elfProg64{
		{Type: ptLoad, Flags: pfR | pfX, Off: 0,
			Vaddr: stubBase, Paddr: stubBase, Filesz: pageSize, Memsz: pageSize, Align: pageSize},
		{Type: ptLoad, Flags: pfR | pfW, Off: pageSize,
			Vaddr: scratchAddr, Paddr: scratchAddr, Filesz: stubSize - pageSize, Memsz: stubSize - pageSize, Align: pageSize},
		{Type: ptGNUStack, Flags: pfR | pfW, Align: 16},
	}
	var b bytes.Buffer
	// Writes to a bytes.Buffer cannot fail.
	_ = binary.Write(&b, binary.LittleEndian, &hdr)
	_ = binary.Write(&b, binary.LittleEndian, progs)
	copy(img, b.Bytes())
	// entry: int3; jmp entry
	copy(img[codeOff:], []byte{0xcc, 0xeb, 0xfd})
	// gadget: syscall; int3
	copy(img[gadgetOff:], []byte{0x0f, 0x05, 0xcc})
	copy(img[batchOff:], batchCode)
	copy(img[cloneOff:], cloneCode)
	copy(img[fpTrampOff:], fpTrampCode())
	copy(img[helperOff:], helperCode)
	return img
}

var stubFile struct {
	once sync.Once
	fd   int
	err  error
}

// stubFD returns a read-only descriptor of a memfd holding the stub image,
// created once per process. It is read-only so that exec does not fail with
// ETXTBSY (a file open for writing cannot be executed).
func stubFD() (int, error) {
	stubFile.once.Do(func() {
		stubFile.fd, stubFile.err = makeStubFD()
	})
	return stubFile.fd, stubFile.err
}

func makeStubFD() (int, error) {
	// MFD_EXEC keeps the image executable where vm.memfd_noexec makes
	// memfds non-executable by default; kernels before 6.3 reject the flag.
	wfd, err := unix.MemfdCreate("elfuse-ptrace-stub", unix.MFD_CLOEXEC|unix.MFD_EXEC)
	if err == unix.EINVAL {
		wfd, err = unix.MemfdCreate("elfuse-ptrace-stub", unix.MFD_CLOEXEC)
	}
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(wfd)
	img := stubImage()
	for off := 0; off < len(img); {
		n, err := unix.Pwrite(wfd, img[off:], int64(off))
		if err != nil {
			return -1, fmt.Errorf("write stub image: %w", err)
		}
		off += n
	}
	rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", wfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen stub image read-only: %w", err)
	}
	return rfd, nil
}
