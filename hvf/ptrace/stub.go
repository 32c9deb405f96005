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
//	stubBase+page    scratch page (R+W): paths for injected openat
//
// The stub never runs code of its own: the tracer stops it at exec, unmaps
// everything else the host kernel gave it (stack, vDSO, vvar), and from then
// on only guest code and injected syscalls execute in it.
const (
	stubBase    = 0x5000_0000_0000
	pageSize    = 0x1000
	codeOff     = 0x100
	gadgetOff   = 0x110
	scratchAddr = stubBase + pageSize
	stubSize    = 2 * pageSize
	stubEntry   = stubBase + codeOff
	gadgetAddr  = stubBase + gadgetOff
	// gadgetTrapRIP is RIP after the gadget's int3 has trapped.
	gadgetTrapRIP = gadgetAddr + 3
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
			Vaddr: scratchAddr, Paddr: scratchAddr, Filesz: pageSize, Memsz: pageSize, Align: pageSize},
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
