package kernel

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestArchPrctl(t *testing.T) {
	tests := []struct {
		name    string
		code    uint64
		arg     uint64
		want    uint64
		wantErr abi.Errno
		wantFS  uint64
		wantGS  uint64
	}{
		{name: "SET_FS sets the vCPU FS base", code: abi.ARCH_SET_FS, arg: 0x7f0000001000, wantFS: 0x7f0000001000},
		{name: "SET_GS sets the vCPU GS base", code: abi.ARCH_SET_GS, arg: 0x5000, wantGS: 0x5000},
		{name: "FS base beyond user space is EPERM", code: abi.ARCH_SET_FS, arg: abi.TASK_SIZE_MAX, wantErr: abi.EPERM},
		{name: "GET_CPUID says enabled", code: abi.ARCH_GET_CPUID, want: 1},
		{name: "SET_CPUID 1 is accepted", code: abi.ARCH_SET_CPUID, arg: 1},
		{name: "SET_CPUID 0 (faulting) is ENODEV", code: abi.ARCH_SET_CPUID, arg: 0, wantErr: abi.ENODEV},
		{name: "unknown code is EINVAL", code: 0x1021, wantErr: abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			got, err := e.call(ArchPrctl, tc.code, tc.arg)
			if errnoOf(err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %d, %v; want %d, errno %d", got, err, tc.want, tc.wantErr)
			}
			if e.cpu.fs != tc.wantFS || e.cpu.gs != tc.wantGS {
				t.Fatalf("fs=%#x gs=%#x, want %#x %#x", e.cpu.fs, e.cpu.gs, tc.wantFS, tc.wantGS)
			}
		})
	}
}

func TestArchPrctlGetBases(t *testing.T) {
	e := newProcTestEnv(t)
	e.cpu.fs, e.cpu.gs = 0x1234000, 0x5678000
	if _, err := e.call(ArchPrctl, abi.ARCH_GET_FS, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(ArchPrctl, abi.ARCH_GET_GS, uint64(testMemBase+8)); err != nil {
		t.Fatal(err)
	}
	if fs, gs := binary.LittleEndian.Uint64(e.bytesAt(testMemBase, 8)), binary.LittleEndian.Uint64(e.bytesAt(testMemBase+8, 8)); fs != 0x1234000 || gs != 0x5678000 {
		t.Fatalf("read fs=%#x gs=%#x", fs, gs)
	}
	if _, err := e.call(ArchPrctl, abi.ARCH_GET_FS, uint64(testBadAddr)); errnoOf(err) != abi.EFAULT {
		t.Fatalf("GET_FS to a bad pointer: %v, want EFAULT", err)
	}
}

func TestSetTidAddressReturnsTid(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Tid = 33
	got, err := e.call(SetTidAddress, uint64(testMemBase+0x40))
	if err != nil || got != 33 {
		t.Fatalf("got %d, %v; want 33", got, err)
	}
	if e.t.ClearTID != testMemBase+0x40 {
		t.Fatalf("ClearTID = %#x", e.t.ClearTID)
	}
	if _, err := e.call(Prctl, abi.PR_GET_TID_ADDRESS, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(e.bytesAt(testMemBase, 8)); got != uint64(testMemBase+0x40) {
		t.Fatalf("PR_GET_TID_ADDRESS = %#x", got)
	}
}

func TestRobustList(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(SetRobustList, uint64(testMemBase+0x80), 16); errnoOf(err) != abi.EINVAL {
		t.Fatalf("wrong length: %v, want EINVAL", err)
	}
	if _, err := e.call(SetRobustList, uint64(testMemBase+0x80), abi.SizeofRobustListHead); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(GetRobustList, 0, uint64(testMemBase), uint64(testMemBase+8)); err != nil {
		t.Fatal(err)
	}
	head, n := binary.LittleEndian.Uint64(e.bytesAt(testMemBase, 8)), binary.LittleEndian.Uint64(e.bytesAt(testMemBase+8, 8))
	if head != uint64(testMemBase+0x80) || n != abi.SizeofRobustListHead {
		t.Fatalf("get_robust_list = %#x, %d", head, n)
	}
	if _, err := e.call(GetRobustList, 99, uint64(testMemBase), uint64(testMemBase+8)); errnoOf(err) != abi.ESRCH {
		t.Fatalf("other tid: %v, want ESRCH", err)
	}
}

func TestExitEndsTheProcessWithAWaitStatus(t *testing.T) {
	tests := []struct {
		name string
		fn   SyscallFn
		code uint64
		want uint32
	}{
		{"exit_group(3)", ExitGroup, 3, 3 << 8},
		{"exit_group keeps the low byte", ExitGroup, 0x1ff, 0xff << 8},
		{"exit_group(-1) is 255", ExitGroup, uint64(0xffffffffffffffff), 0xff << 8},
		{"exit of the only thread", Exit, 7, 7 << 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			_, err := e.call(tc.fn, tc.code)
			if !errors.Is(err, ErrNoReturn) {
				t.Fatalf("err = %v, want ErrNoReturn", err)
			}
			done, status := e.t.Proc.Exited()
			if !done || status != tc.want {
				t.Fatalf("exited=%v status=%#x, want %#x", done, status, tc.want)
			}
			if len(e.host.exits) != 1 || e.host.exits[0] != tc.want {
				t.Fatalf("host told %v", e.host.exits)
			}
		})
	}
}

func TestRseqIsENOSYS(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(Rseq, uint64(testMemBase), 32, 0, 0x53053053); errnoOf(err) != abi.ENOSYS {
		t.Fatalf("rseq: %v, want ENOSYS", err)
	}
}
