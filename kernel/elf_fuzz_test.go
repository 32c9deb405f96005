package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// minimalELF returns a small valid static ET_EXEC image: one PT_LOAD of the
// whole file at 0x400000 and a PT_GNU_STACK.
func minimalELF() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	h := abi.Elf64_Ehdr{
		Type: abi.ET_EXEC, Machine: abi.EM_X86_64, Version: 1, Entry: 0x4000b0,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 2,
	}
	copy(h.Ident[:], abi.ELFMAG)
	h.Ident[abi.EI_CLASS], h.Ident[abi.EI_DATA], h.Ident[abi.EI_VERSION] = abi.ELFCLASS64, abi.ELFDATA2LSB, 1
	binary.Write(&b, le, h)
	binary.Write(&b, le, abi.Elf64_Phdr{Type: abi.PT_LOAD, Flags: abi.PF_R | abi.PF_X, Vaddr: 0x400000,
		Filesz: 64 + 2*56 + 8, Memsz: 0x2000, Align: 0x1000})
	binary.Write(&b, le, abi.Elf64_Phdr{Type: abi.PT_GNU_STACK, Flags: abi.PF_R | abi.PF_W})
	b.Write([]byte{0x0f, 0x05, 0xeb, 0xfe, 0, 0, 0, 0}) // syscall; jmp .
	return b.Bytes()
}

// FuzzParseELF checks that header and program-header validation never
// panics, fails only with ENOEXEC, and that whatever it accepts is safe to
// load: every PT_LOAD lies inside the file and the address space, in order.
func FuzzParseELF(f *testing.F) {
	f.Add(minimalELF())
	f.Add(minimalELF()[:70])
	f.Add([]byte("#!/bin/sh\n"))
	f.Add([]byte{})
	if b, err := os.ReadFile("/bin/busybox"); err == nil && len(b) > 4096 {
		f.Add(b[:4096])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := parseELF(bytes.NewReader(data), int64(len(data)), AddrLimit)
		if err != nil {
			if !errors.Is(err, abi.ENOEXEC) {
				t.Fatalf("error %v does not wrap ENOEXEC", err)
			}
			return
		}
		prev := abi.Addr(0)
		for _, p := range img.loads {
			if p.Off+p.Filesz > uint64(len(data)) || p.Off+p.Filesz < p.Off {
				t.Fatalf("accepted a segment past the file: %+v", p)
			}
			if p.Filesz > p.Memsz || p.Vaddr+p.Memsz > uint64(AddrLimit) || p.Vaddr+p.Memsz < p.Vaddr {
				t.Fatalf("accepted a bad segment: %+v", p)
			}
			if abi.Addr(p.Vaddr) < prev.RoundDown() {
				t.Fatalf("accepted out-of-order segments")
			}
			prev = abi.Addr(p.Vaddr + p.Memsz)
		}
		if img.first > img.end || img.end > AddrLimit {
			t.Fatalf("bad span [%#x, %#x)", uint64(img.first), uint64(img.end))
		}
	})
}

func TestMinimalELFLoads(t *testing.T) {
	path := t.TempDir() + "/min"
	if err := os.WriteFile(path, minimalELF(), 0o755); err != nil {
		t.Fatal(err)
	}
	task, fm := startTest(t, path, []string{"min"}, nil)
	m := task.Proc.MM
	if task.CPU.Regs().RIP != 0x4000b0 {
		t.Fatalf("rip %#x", task.CPU.Regs().RIP)
	}
	expectBytes(t, m, 0x4000b0, []byte{0x0f, 0x05, 0xeb, 0xfe})
	// The rest of the segment's page after p_filesz and the .bss read zero.
	expectBytes(t, m, 0x4000b8, make([]byte, 0x2000-0xb8))
	if prot, _ := m.Lookup(0x401000); prot != 5 {
		t.Fatalf(".bss page prot %v, want r-x like its segment", prot)
	}
	if m.Brk() != 0x402000 {
		t.Fatalf("brk %#x, want 0x402000", uint64(m.Brk()))
	}
	checkMachine(t, m, fm)
}
