package hvf

import (
	"reflect"
	"testing"
)

// Expected values were printed by a C program compiled against the Linux
// UAPI headers (linux/kvm.h, asm/kvm.h): sizeof, offsetof and the _IO*
// macros.

func TestIoctlNumbersMatchUAPI(t *testing.T) {
	tests := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"KVM_GET_API_VERSION", kvmGetAPIVersion, 0xae00},
		{"KVM_CREATE_VM", kvmCreateVM, 0xae01},
		{"KVM_CHECK_EXTENSION", kvmCheckExtension, 0xae03},
		{"KVM_GET_VCPU_MMAP_SIZE", kvmGetVCPUMmapSize, 0xae04},
		{"KVM_GET_SUPPORTED_CPUID", kvmGetSupportedCPUID, 0xc008ae05},
		{"KVM_CREATE_VCPU", kvmCreateVCPU, 0xae41},
		{"KVM_SET_USER_MEMORY_REGION", kvmSetUserMemoryRegion, 0x4020ae46},
		{"KVM_RUN", kvmRun, 0xae80},
		{"KVM_GET_REGS", kvmGetRegs, 0x8090ae81},
		{"KVM_SET_REGS", kvmSetRegs, 0x4090ae82},
		{"KVM_GET_SREGS", kvmGetSregs, 0x8138ae83},
		{"KVM_SET_SREGS", kvmSetSregs, 0x4138ae84},
		{"KVM_GET_MSRS", kvmGetMSRs, 0xc008ae88},
		{"KVM_SET_MSRS", kvmSetMSRs, 0x4008ae89},
		{"KVM_SET_CPUID2", kvmSetCPUID2, 0x4008ae90},
		{"KVM_GET_XSAVE", kvmGetXSave, 0x9000aea4},
		{"KVM_SET_XSAVE", kvmSetXSave, 0x5000aea5},
		{"KVM_GET_XCRS", kvmGetXCRs, 0x8188aea6},
		{"KVM_SET_XCRS", kvmSetXCRs, 0x4188aea7},
		{"KVM_SET_DEVICE_ATTR", kvmSetDeviceAttr, 0x4018aee1},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func TestStructSizesMatchUAPI(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want uintptr
	}{
		{"kvm_regs", kvmRegs{}, 144},
		{"kvm_segment", kvmSegment{}, 24},
		{"kvm_dtable", kvmDtable{}, 16},
		{"kvm_sregs", kvmSregs{}, 312},
		{"kvm_userspace_memory_region", kvmUserspaceMemoryRegion{}, 32},
		{"kvm_cpuid_entry2", kvmCPUIDEntry2{}, 40},
		{"kvm_msr_entry", kvmMSREntry{}, 16},
		{"kvm_xcrs", kvmXCRs{}, 392},
		{"kvm_device_attr", kvmDeviceAttr{}, 24},
		{"kvm_cpuid2 header+entries", kvmCPUID2{}, 8 + 40*kvmCPUIDMax},
		{"kvm_msrs header+entries", kvmMSRs{}, 8 + 16*kvmMSRsMax},
	}
	for _, tc := range tests {
		if got := reflect.TypeOf(tc.v).Size(); got != tc.want {
			t.Errorf("sizeof(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestStructOffsetsMatchUAPI(t *testing.T) {
	off := func(v any, field string) uintptr {
		f, ok := reflect.TypeOf(v).FieldByName(field)
		if !ok {
			t.Fatalf("no field %s", field)
		}
		return f.Offset
	}
	tests := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"kvm_sregs.tr", off(kvmSregs{}, "TR"), 6 * 24},
		{"kvm_sregs.gdt", off(kvmSregs{}, "GDT"), 0xc0},
		{"kvm_sregs.idt", off(kvmSregs{}, "IDT"), 0xd0},
		{"kvm_sregs.cr0", off(kvmSregs{}, "CR0"), 0xe0},
		{"kvm_sregs.efer", off(kvmSregs{}, "EFER"), 0xe0 + 5*8},
		{"kvm_sregs.interrupt_bitmap", off(kvmSregs{}, "InterruptBitmap"), 0x118},
		{"kvm_segment.selector", off(kvmSegment{}, "Selector"), 12},
		{"kvm_segment.unusable", off(kvmSegment{}, "Unusable"), 22},
		{"kvm_regs.rip", off(kvmRegs{}, "RIP"), 128},
		{"kvm_regs.r11", off(kvmRegs{}, "R11"), 88},
		{"kvm_cpuid_entry2.edx", off(kvmCPUIDEntry2{}, "EDX"), 24},
		{"kvm_cpuid2.entries", off(kvmCPUID2{}, "Entries"), 8},
		{"kvm_msrs.entries", off(kvmMSRs{}, "Entries"), 8},
		{"kvm_msr_entry.data", off(kvmMSREntry{}, "Data"), 8},
		{"kvm_xcrs.xcrs", off(kvmXCRs{}, "XCRs"), 8},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("offsetof(%s) = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func TestRunPageOffsetsMatchUAPI(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"immediate_exit", runImmediateExit, 0x1},
		{"exit_reason", runExitReason, 0x8},
		{"mmio.phys_addr", runMMIOPhysAddr, 0x20},
		{"mmio.data", runMMIOData, 0x28},
		{"mmio.len", runMMIOLen, 0x30},
		{"mmio.is_write", runMMIOIsWrite, 0x34},
		{"internal.ndata", runInternalNData, 0x24},
		{"internal.data", runInternalData, 0x28},
		{"kvm_valid_regs", runValidRegs, 0x120},
		{"kvm_dirty_regs", runDirtyRegs, 0x128},
		{"s.regs.regs", runSyncRegs, 0x130},
		{"s.regs.sregs", runSyncSregs, 0x1c0},
		{"sizeof(kvm_run)", runMinSize, 0x930},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("kvm_run %s at %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func TestConstantsMatchUAPI(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"KVM_CAP_USER_MEMORY", kvmCapUserMemory, 3},
		{"KVM_CAP_EXT_CPUID", kvmCapExtCPUID, 7},
		{"KVM_CAP_NR_MEMSLOTS", kvmCapNrMemslots, 10},
		{"KVM_CAP_XSAVE", kvmCapXSave, 55},
		{"KVM_CAP_XCRS", kvmCapXCRs, 56},
		{"KVM_CAP_SYNC_REGS", kvmCapSyncRegs, 74},
		{"KVM_CAP_IMMEDIATE_EXIT", kvmCapImmediateExit, 136},
		{"KVM_EXIT_IO", kvmExitIO, 2},
		{"KVM_EXIT_HLT", kvmExitHLT, 5},
		{"KVM_EXIT_MMIO", kvmExitMMIO, 6},
		{"KVM_EXIT_SHUTDOWN", kvmExitShutdown, 8},
		{"KVM_EXIT_FAIL_ENTRY", kvmExitFailEntry, 9},
		{"KVM_EXIT_INTR", kvmExitIntr, 10},
		{"KVM_EXIT_INTERNAL_ERROR", kvmExitInternalError, 17},
		{"KVM_SYNC_X86_REGS", kvmSyncX86Regs, 1},
		{"KVM_SYNC_X86_SREGS", kvmSyncX86Sregs, 2},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
