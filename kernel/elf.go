package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/elfuse/elfuse/kernel/abi"
)

// maxPhdrBytes bounds the program header table as Linux does (64 KiB).
const maxPhdrBytes = 65536

// maxInterpLen bounds PT_INTERP (PATH_MAX).
const maxInterpLen = 4096

// elfImage is the validated header of an x86-64 ELF executable: everything
// the loader needs, checked so that loading cannot overflow or read past
// the file.
type elfImage struct {
	hdr   abi.Elf64_Ehdr
	phdrs []abi.Elf64_Phdr
	// loads are the PT_LOAD headers with p_memsz > 0, in address order.
	loads []abi.Elf64_Phdr
	// interp is the PT_INTERP path ("" when none).
	interp string
	// execStack is PT_GNU_STACK's PF_X (false when absent, as on x86-64).
	execStack bool
	// first and end are the page-rounded span of the PT_LOAD segments
	// (unbiased); align the largest p_align (at least a page).
	first, end abi.Addr
	align      uint64
}

// noexec builds a loader error: a message saying what is wrong, wrapping
// ENOEXEC.
func noexec(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, abi.ENOEXEC)...)
}

// machineNames names the e_machine values people meet most.
var machineNames = map[uint16]string{
	abi.EM_386: "EM_386", abi.EM_ARM: "EM_ARM", abi.EM_AARCH64: "EM_AARCH64", abi.EM_RISCV: "EM_RISCV",
	2: "EM_SPARC", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64", 22: "EM_S390", 258: "EM_LOONGARCH",
}

var typeNames = map[uint16]string{abi.ET_NONE: "ET_NONE", abi.ET_REL: "ET_REL (object file)", abi.ET_CORE: "ET_CORE (core dump)"}

// parseELF reads and validates the ELF header and program headers of an
// executable of the given size. Every failure wraps ENOEXEC and says what
// is wrong; hostile input never panics (all offsets are checked before use).
func parseELF(r io.ReaderAt, size int64, limit abi.Addr) (*elfImage, error) {
	var raw [abi.SizeofElf64_Ehdr]byte
	n, err := r.ReadAt(raw[:], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read ELF header: %w", abi.EIO)
	}
	if n < 4 || !bytes.Equal(raw[:4], []byte(abi.ELFMAG)) {
		if n >= 2 && raw[0] == '#' && raw[1] == '!' {
			return nil, noexec("a #! script, not an ELF file")
		}
		return nil, noexec("not an ELF file (bad magic)")
	}
	if n > abi.EI_CLASS {
		switch raw[abi.EI_CLASS] {
		case abi.ELFCLASS64:
		case abi.ELFCLASS32:
			return nil, noexec("32-bit ELF (ELFCLASS32) is not supported")
		default:
			return nil, noexec("bad ELF class %d", raw[abi.EI_CLASS])
		}
	}
	if n < abi.SizeofElf64_Ehdr {
		return nil, noexec("truncated ELF header (%d of %d bytes)", n, abi.SizeofElf64_Ehdr)
	}
	if raw[abi.EI_DATA] != abi.ELFDATA2LSB {
		return nil, noexec("big-endian or bad ELF data encoding %d", raw[abi.EI_DATA])
	}
	if raw[abi.EI_VERSION] != abi.EV_CURRENT {
		return nil, noexec("bad ELF version %d", raw[abi.EI_VERSION])
	}
	img := &elfImage{}
	h := &img.hdr
	if _, err := binary.Decode(raw[:], binary.LittleEndian, h); err != nil {
		return nil, noexec("bad ELF header: %v", err)
	}
	if h.Machine != abi.EM_X86_64 {
		name := machineNames[h.Machine]
		if name == "" {
			name = fmt.Sprintf("e_machine %d", h.Machine)
		}
		return nil, noexec("ELF for another architecture (%s)", name)
	}
	if h.Type != abi.ET_EXEC && h.Type != abi.ET_DYN {
		name := typeNames[h.Type]
		if name == "" {
			name = fmt.Sprintf("e_type %d", h.Type)
		}
		return nil, noexec("ELF type %s is not executable", name)
	}
	if h.Phentsize != abi.SizeofElf64_Phdr {
		return nil, noexec("bad program header entry size %d (want %d)", h.Phentsize, abi.SizeofElf64_Phdr)
	}
	if h.Phnum == 0 {
		return nil, noexec("no program headers")
	}
	tableLen := uint64(h.Phnum) * abi.SizeofElf64_Phdr
	if tableLen > maxPhdrBytes {
		return nil, noexec("too many program headers (%d)", h.Phnum)
	}
	if h.Phoff > uint64(size) || tableLen > uint64(size)-h.Phoff {
		return nil, noexec("program headers at %#x+%#x lie past the end of the file (%d bytes): truncated?", h.Phoff, tableLen, size)
	}
	table := make([]byte, tableLen)
	if _, err := r.ReadAt(table, int64(h.Phoff)); err != nil {
		return nil, noexec("read program headers: %v", err)
	}
	img.phdrs = make([]abi.Elf64_Phdr, h.Phnum)
	if _, err := binary.Decode(table, binary.LittleEndian, img.phdrs); err != nil {
		return nil, noexec("bad program headers: %v", err)
	}
	if err := img.checkPhdrs(r, size, limit); err != nil {
		return nil, err
	}
	return img, nil
}

// checkPhdrs validates the program headers and fills the derived fields.
func (img *elfImage) checkPhdrs(r io.ReaderAt, size int64, limit abi.Addr) error {
	img.align = abi.PageSize
	var prevEnd uint64
	for i := range img.phdrs {
		p := &img.phdrs[i]
		switch p.Type {
		case abi.PT_LOAD:
			if p.Filesz > p.Memsz {
				return noexec("PT_LOAD #%d: p_filesz %#x exceeds p_memsz %#x", i, p.Filesz, p.Memsz)
			}
			if p.Off > uint64(size) || p.Filesz > uint64(size)-p.Off {
				return noexec("PT_LOAD #%d: file range %#x+%#x lies past the end of the file (%d bytes): truncated?", i, p.Off, p.Filesz, size)
			}
			if p.Off%abi.PageSize != p.Vaddr%abi.PageSize {
				return noexec("PT_LOAD #%d: p_offset %#x and p_vaddr %#x differ modulo the page size", i, p.Off, p.Vaddr)
			}
			if p.Align > 1 && p.Align&(p.Align-1) != 0 {
				return noexec("PT_LOAD #%d: p_align %#x is not a power of two", i, p.Align)
			}
			if p.Memsz == 0 {
				continue
			}
			end := p.Vaddr + p.Memsz
			if end < p.Vaddr || end > uint64(limit) {
				return noexec("PT_LOAD #%d: [%#x, %#x+%#x) lies outside the address space", i, p.Vaddr, p.Vaddr, p.Memsz)
			}
			if p.Vaddr < prevEnd&^(abi.PageSize-1) {
				return noexec("PT_LOAD #%d at %#x overlaps or precedes the previous segment", i, p.Vaddr)
			}
			prevEnd = end
			img.loads = append(img.loads, *p)
			if p.Align > img.align {
				img.align = p.Align
			}
		case abi.PT_INTERP:
			if img.interp != "" {
				return noexec("more than one PT_INTERP")
			}
			if p.Filesz < 2 || p.Filesz > maxInterpLen {
				return noexec("PT_INTERP size %d out of range", p.Filesz)
			}
			if p.Off > uint64(size) || p.Filesz > uint64(size)-p.Off {
				return noexec("PT_INTERP lies past the end of the file: truncated?")
			}
			b := make([]byte, p.Filesz)
			if _, err := r.ReadAt(b, int64(p.Off)); err != nil {
				return noexec("read PT_INTERP: %v", err)
			}
			if b[len(b)-1] != 0 || bytes.IndexByte(b[:len(b)-1], 0) >= 0 {
				return noexec("PT_INTERP is not a NUL-terminated path")
			}
			img.interp = string(b[:len(b)-1])
		case abi.PT_GNU_STACK:
			img.execStack = p.Flags&abi.PF_X != 0
		}
	}
	if len(img.loads) == 0 {
		return noexec("no loadable (PT_LOAD) segments")
	}
	img.first = abi.Addr(img.loads[0].Vaddr).RoundDown()
	last := img.loads[len(img.loads)-1]
	end, ok := abi.Addr(last.Vaddr + last.Memsz).RoundUp()
	if !ok || end > limit {
		return noexec("segments end past the address space")
	}
	img.end = end
	if img.hdr.Type == abi.ET_EXEC {
		if img.first < abi.MMAP_MIN_ADDR {
			return noexec("ET_EXEC segment at %#x is below the lowest mappable address %#x", uint64(img.first), uint64(abi.MMAP_MIN_ADDR))
		}
		if img.hdr.Entry >= uint64(limit) {
			return noexec("entry point %#x outside the address space", img.hdr.Entry)
		}
	} else if img.hdr.Entry >= uint64(img.end) {
		return noexec("entry point %#x outside the loaded image", img.hdr.Entry)
	}
	return nil
}

// phdrVaddr returns the unbiased address of the program header table in
// memory: PT_PHDR's p_vaddr, else the PT_LOAD holding e_phoff. ok=false if
// the table is not loaded.
func (img *elfImage) phdrVaddr() (uint64, bool) {
	for _, p := range img.phdrs {
		if p.Type == abi.PT_PHDR {
			return p.Vaddr, true
		}
	}
	off := img.hdr.Phoff
	for _, p := range img.loads {
		if off >= p.Off && off-p.Off < p.Filesz {
			return p.Vaddr + (off - p.Off), true
		}
	}
	return 0, false
}
