package kernel

import (
	"debug/elf"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// TestABIConstantsMatchLinux checks kernel/abi's mm and ELF numbers against
// golang.org/x/sys/unix and debug/elf.
func TestABIConstantsMatchLinux(t *testing.T) {
	pairs := []struct {
		name      string
		ours, ref uint64
	}{
		{"PROT_READ", abi.PROT_READ, unix.PROT_READ}, {"PROT_WRITE", abi.PROT_WRITE, unix.PROT_WRITE},
		{"PROT_EXEC", abi.PROT_EXEC, unix.PROT_EXEC}, {"PROT_GROWSDOWN", abi.PROT_GROWSDOWN, unix.PROT_GROWSDOWN},
		{"PROT_GROWSUP", abi.PROT_GROWSUP, unix.PROT_GROWSUP},
		{"MAP_SHARED", abi.MAP_SHARED, unix.MAP_SHARED}, {"MAP_PRIVATE", abi.MAP_PRIVATE, unix.MAP_PRIVATE},
		{"MAP_SHARED_VALIDATE", abi.MAP_SHARED_VALIDATE, unix.MAP_SHARED_VALIDATE}, {"MAP_TYPE", abi.MAP_TYPE, unix.MAP_TYPE},
		{"MAP_FIXED", abi.MAP_FIXED, unix.MAP_FIXED}, {"MAP_ANONYMOUS", abi.MAP_ANONYMOUS, unix.MAP_ANONYMOUS},
		{"MAP_32BIT", abi.MAP_32BIT, unix.MAP_32BIT}, {"MAP_GROWSDOWN", abi.MAP_GROWSDOWN, unix.MAP_GROWSDOWN},
		{"MAP_DENYWRITE", abi.MAP_DENYWRITE, unix.MAP_DENYWRITE}, {"MAP_EXECUTABLE", abi.MAP_EXECUTABLE, unix.MAP_EXECUTABLE},
		{"MAP_LOCKED", abi.MAP_LOCKED, unix.MAP_LOCKED}, {"MAP_NORESERVE", abi.MAP_NORESERVE, unix.MAP_NORESERVE},
		{"MAP_POPULATE", abi.MAP_POPULATE, unix.MAP_POPULATE}, {"MAP_NONBLOCK", abi.MAP_NONBLOCK, unix.MAP_NONBLOCK},
		{"MAP_STACK", abi.MAP_STACK, unix.MAP_STACK}, {"MAP_HUGETLB", abi.MAP_HUGETLB, unix.MAP_HUGETLB},
		{"MAP_SYNC", abi.MAP_SYNC, unix.MAP_SYNC}, {"MAP_FIXED_NOREPLACE", abi.MAP_FIXED_NOREPLACE, unix.MAP_FIXED_NOREPLACE},
		{"MREMAP_MAYMOVE", abi.MREMAP_MAYMOVE, unix.MREMAP_MAYMOVE}, {"MREMAP_FIXED", abi.MREMAP_FIXED, unix.MREMAP_FIXED},
		{"MREMAP_DONTUNMAP", abi.MREMAP_DONTUNMAP, unix.MREMAP_DONTUNMAP},
		{"MADV_DONTNEED", abi.MADV_DONTNEED, unix.MADV_DONTNEED}, {"MADV_FREE", abi.MADV_FREE, unix.MADV_FREE},
		{"MADV_REMOVE", abi.MADV_REMOVE, unix.MADV_REMOVE}, {"MADV_DONTFORK", abi.MADV_DONTFORK, unix.MADV_DONTFORK},
		{"MADV_WIPEONFORK", abi.MADV_WIPEONFORK, unix.MADV_WIPEONFORK}, {"MADV_KEEPONFORK", abi.MADV_KEEPONFORK, unix.MADV_KEEPONFORK},
		{"MADV_HUGEPAGE", abi.MADV_HUGEPAGE, unix.MADV_HUGEPAGE}, {"MADV_COLD", abi.MADV_COLD, unix.MADV_COLD},
		{"MADV_PAGEOUT", abi.MADV_PAGEOUT, unix.MADV_PAGEOUT}, {"MADV_POPULATE_READ", abi.MADV_POPULATE_READ, unix.MADV_POPULATE_READ},
		{"MADV_POPULATE_WRITE", abi.MADV_POPULATE_WRITE, unix.MADV_POPULATE_WRITE}, {"MADV_HWPOISON", abi.MADV_HWPOISON, unix.MADV_HWPOISON},
		{"MADV_DODUMP", abi.MADV_DODUMP, unix.MADV_DODUMP}, {"MADV_DONTDUMP", abi.MADV_DONTDUMP, unix.MADV_DONTDUMP},
		{"MS_ASYNC", abi.MS_ASYNC, unix.MS_ASYNC}, {"MS_SYNC", abi.MS_SYNC, unix.MS_SYNC}, {"MS_INVALIDATE", abi.MS_INVALIDATE, unix.MS_INVALIDATE},
		{"ET_EXEC", abi.ET_EXEC, uint64(elf.ET_EXEC)}, {"ET_DYN", abi.ET_DYN, uint64(elf.ET_DYN)},
		{"EM_X86_64", abi.EM_X86_64, uint64(elf.EM_X86_64)}, {"EM_AARCH64", abi.EM_AARCH64, uint64(elf.EM_AARCH64)},
		{"EM_386", abi.EM_386, uint64(elf.EM_386)}, {"EM_RISCV", abi.EM_RISCV, uint64(elf.EM_RISCV)},
		{"PT_LOAD", abi.PT_LOAD, uint64(elf.PT_LOAD)}, {"PT_INTERP", abi.PT_INTERP, uint64(elf.PT_INTERP)},
		{"PT_PHDR", abi.PT_PHDR, uint64(elf.PT_PHDR)}, {"PT_GNU_STACK", abi.PT_GNU_STACK, uint64(elf.PT_GNU_STACK)},
		{"PT_GNU_RELRO", abi.PT_GNU_RELRO, uint64(elf.PT_GNU_RELRO)}, {"PT_TLS", abi.PT_TLS, uint64(elf.PT_TLS)},
		{"PF_X", abi.PF_X, uint64(elf.PF_X)}, {"PF_W", abi.PF_W, uint64(elf.PF_W)}, {"PF_R", abi.PF_R, uint64(elf.PF_R)},
		{"ELFCLASS64", abi.ELFCLASS64, uint64(elf.ELFCLASS64)}, {"ELFDATA2LSB", abi.ELFDATA2LSB, uint64(elf.ELFDATA2LSB)},
	}
	for _, p := range pairs {
		if p.ours != p.ref {
			t.Errorf("%s = %#x, Linux has %#x", p.name, p.ours, p.ref)
		}
	}
}
