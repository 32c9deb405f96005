package abi

// ELF file format (include/uapi/linux/elf.h) and auxiliary vector
// (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h) as the
// x86-64 Linux loader uses them.

// e_ident indexes and values.
const (
	EI_MAG0       = 0
	EI_CLASS      = 4
	EI_DATA       = 5
	EI_VERSION    = 6
	EI_OSABI      = 7
	EI_NIDENT     = 16
	ELFMAG        = "\x7fELF"
	ELFCLASSNONE  = 0
	ELFCLASS32    = 1
	ELFCLASS64    = 2
	ELFDATA2LSB   = 1
	ELFDATA2MSB   = 2
	EV_CURRENT    = 1
	ELFOSABI_NONE = 0
)

// e_type values.
const (
	ET_NONE = 0
	ET_REL  = 1
	ET_EXEC = 2
	ET_DYN  = 3
	ET_CORE = 4
)

// e_machine values the loader names in its errors.
const (
	EM_386     = 3
	EM_ARM     = 40
	EM_X86_64  = 62
	EM_AARCH64 = 183
	EM_RISCV   = 243
)

// Program header types.
const (
	PT_NULL         = 0
	PT_LOAD         = 1
	PT_DYNAMIC      = 2
	PT_INTERP       = 3
	PT_NOTE         = 4
	PT_SHLIB        = 5
	PT_PHDR         = 6
	PT_TLS          = 7
	PT_GNU_EH_FRAME = 0x6474e550
	PT_GNU_STACK    = 0x6474e551
	PT_GNU_RELRO    = 0x6474e552
	PT_GNU_PROPERTY = 0x6474e553
)

// Program header flags.
const (
	PF_X = 0x1
	PF_W = 0x2
	PF_R = 0x4
)

// Sizes of the 64-bit structures.
const (
	SizeofElf64_Ehdr = 64
	SizeofElf64_Phdr = 56
)

// Elf64_Ehdr is the ELF file header.
type Elf64_Ehdr struct {
	Ident     [EI_NIDENT]byte
	Type      uint16
	Machine   uint16
	Version   uint32
	Entry     uint64
	Phoff     uint64
	Shoff     uint64
	Flags     uint32
	Ehsize    uint16
	Phentsize uint16
	Phnum     uint16
	Shentsize uint16
	Shnum     uint16
	Shstrndx  uint16
}

// Elf64_Phdr is a program header.
type Elf64_Phdr struct {
	Type   uint32
	Flags  uint32
	Off    uint64
	Vaddr  uint64
	Paddr  uint64
	Filesz uint64
	Memsz  uint64
	Align  uint64
}

// Auxiliary vector keys.
const (
	AT_NULL          = 0
	AT_IGNORE        = 1
	AT_EXECFD        = 2
	AT_PHDR          = 3
	AT_PHENT         = 4
	AT_PHNUM         = 5
	AT_PAGESZ        = 6
	AT_BASE          = 7
	AT_FLAGS         = 8
	AT_ENTRY         = 9
	AT_NOTELF        = 10
	AT_UID           = 11
	AT_EUID          = 12
	AT_GID           = 13
	AT_EGID          = 14
	AT_PLATFORM      = 15
	AT_HWCAP         = 16
	AT_CLKTCK        = 17
	AT_SECURE        = 23
	AT_BASE_PLATFORM = 24
	AT_RANDOM        = 25
	AT_HWCAP2        = 26
	AT_EXECFN        = 31
	AT_SYSINFO_EHDR  = 33
	AT_MINSIGSTKSZ   = 51
)

// HWCAP2_FSGSBASE is AT_HWCAP2 bit 1: the kernel enabled FSGSBASE.
const HWCAP2_FSGSBASE = 1 << 1
