package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestAuxvDescribesTheHostCPU(t *testing.T) {
	host := hostAuxv()
	if host == nil {
		t.Skip("no /proc/self/auxv")
	}
	aux := map[uint64]uint64{}
	v := buildAuxv(auxInfo{phdr: 1, phnum: 2, base: 3, entry: 4, random: 5, platform: 6, execfn: 7})
	if v[len(v)-1] != (AuxEntry{abi.AT_NULL, 0}) {
		t.Fatal("auxv does not end with AT_NULL")
	}
	for _, e := range v {
		if _, dup := aux[e.Key]; dup {
			t.Fatalf("key %d twice", e.Key)
		}
		aux[e.Key] = e.Val
	}
	for _, k := range []uint64{abi.AT_HWCAP, abi.AT_HWCAP2, abi.AT_MINSIGSTKSZ, abi.AT_UID, abi.AT_EGID, abi.AT_PAGESZ, abi.AT_CLKTCK} {
		if want, ok := host[k]; ok && aux[k] != want {
			t.Errorf("auxv key %d = %#x, host has %#x", k, aux[k], want)
		}
	}
	// The fallback is CPUID leaf 1 EDX; the host kernel may clear bits of
	// it (features it disabled), so only check that it has FPU and SSE2.
	if h := hwcap(); h&1 == 0 || h&(1<<26) == 0 {
		t.Errorf("CPUID.1:EDX %#x lacks FPU or SSE2", h)
	}
	if aux[abi.AT_PHDR] != 1 || aux[abi.AT_PHNUM] != 2 || aux[abi.AT_BASE] != 3 || aux[abi.AT_ENTRY] != 4 ||
		aux[abi.AT_RANDOM] != 5 || aux[abi.AT_PLATFORM] != 6 || aux[abi.AT_EXECFN] != 7 {
		t.Errorf("image entries misplaced: %v", aux)
	}
	if m := minSigStackSize(); m < 1024 || m%16 != 0 {
		t.Errorf("computed AT_MINSIGSTKSZ fallback %d", m)
	}
}
