package kernel

import (
	"encoding/binary"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// AuxEntry is one auxiliary-vector pair.
type AuxEntry struct{ Key, Val uint64 }

// cpuid executes CPUID (auxv_amd64.s). The guest sees the host's CPUID, so
// the host's answers are the guest's.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// hostAuxv is the host kernel's own auxiliary vector (/proc/self/auxv),
// read once. The guest's CPU-describing entries copy it: the guest runs on
// the same CPU, and on the ptrace backend under the same kernel, so the
// host's answers (FSGSBASE enabled or not, the signal frame size for the
// enabled XSAVE features) are the right ones.
var hostAuxv = sync.OnceValue(func() map[uint64]uint64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return nil
	}
	out := map[uint64]uint64{}
	for len(b) >= 16 {
		k, v := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		if k == abi.AT_NULL {
			break
		}
		out[k] = v
		b = b[16:]
	}
	return out
})

// fromHost returns the host's value for key, or fallback() without one.
func fromHost(key uint64, fallback func() uint64) uint64 {
	if v, ok := hostAuxv()[key]; ok {
		return v
	}
	return fallback()
}

// hwcap is AT_HWCAP: CPUID leaf 1 EDX, as Linux reports on x86.
func hwcap() uint64 {
	_, _, _, edx := cpuid(1, 0)
	return uint64(edx)
}

// hwcap2 is AT_HWCAP2 when the host does not say: HWCAP2_FSGSBASE when
// the CPU has FSGSBASE.
func hwcap2() uint64 {
	if max, _, _, _ := cpuid(0, 0); max < 7 {
		return 0
	}
	if _, ebx, _, _ := cpuid(7, 0); ebx&1 != 0 {
		return abi.HWCAP2_FSGSBASE
	}
	return 0
}

// minSigStackSize is AT_MINSIGSTKSZ when the host does not say: the largest signal frame Linux would
// build, i.e. the rt_sigframe (ucontext, siginfo, return address) plus the
// XSAVE area for the enabled features, with alignment slack.
func minSigStackSize() uint64 {
	const rtSigframe = 8 + 304 + 128 // pretcode, ucontext, siginfo
	xsave := uint64(512 + 64)        // FXSAVE area plus XSAVE header
	if max, _, _, _ := cpuid(0, 0); max >= 0xd {
		if _, _, ecx, _ := cpuid(1, 0); ecx&(1<<27) != 0 { // OSXSAVE
			if _, ebx, _, _ := cpuid(0xd, 0); ebx != 0 {
				xsave = uint64(ebx)
			}
		}
	}
	size := rtSigframe + xsave + 4 /* FP_XSTATE_MAGIC2 */ + 64 /* xsave alignment */ + 15
	return (size + 15) &^ 15
}

// auxInfo is what the auxiliary vector reports about the loaded image.
type auxInfo struct {
	phdr, phnum, base, entry uint64
	random, platform, execfn abi.Addr
	vdso                     abi.Addr // 0: no vDSO
}

// buildAuxv returns the auxiliary vector in Linux's order
// (fs/binfmt_elf.c create_elf_tables), ending with AT_NULL.
func buildAuxv(in auxInfo) []AuxEntry {
	var arch []AuxEntry // ARCH_DLINFO comes first
	if in.vdso != 0 {
		arch = append(arch, AuxEntry{abi.AT_SYSINFO_EHDR, uint64(in.vdso)})
	}
	return append(arch, []AuxEntry{
		{abi.AT_MINSIGSTKSZ, fromHost(abi.AT_MINSIGSTKSZ, minSigStackSize)},
		{abi.AT_HWCAP, fromHost(abi.AT_HWCAP, hwcap)},
		{abi.AT_PAGESZ, abi.PageSize},
		{abi.AT_CLKTCK, 100},
		{abi.AT_PHDR, in.phdr},
		{abi.AT_PHENT, abi.SizeofElf64_Phdr},
		{abi.AT_PHNUM, in.phnum},
		{abi.AT_BASE, in.base},
		{abi.AT_FLAGS, 0},
		{abi.AT_ENTRY, in.entry},
		{abi.AT_UID, uint64(unix.Getuid())},
		{abi.AT_EUID, uint64(unix.Geteuid())},
		{abi.AT_GID, uint64(unix.Getgid())},
		{abi.AT_EGID, uint64(unix.Getegid())},
		{abi.AT_SECURE, 0},
		{abi.AT_RANDOM, uint64(in.random)},
		{abi.AT_HWCAP2, fromHost(abi.AT_HWCAP2, hwcap2)},
		{abi.AT_EXECFN, uint64(in.execfn)},
		{abi.AT_PLATFORM, uint64(in.platform)},
		{abi.AT_NULL, 0},
	}...)
}
