package kernel

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestSchedGetaffinityIsTheHostMask(t *testing.T) {
	e := newProcTestEnv(t)
	n, err := e.call(SchedGetaffinity, 0, 128, uint64(testMemBase))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 128)
	wn, err := hostSchedGetaffinity(0, want)
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != wn || !bytes.Equal(e.bytesAt(testMemBase, wn), want[:wn]) {
		t.Fatalf("mask %x (%d bytes), host %x (%d bytes)", e.bytesAt(testMemBase, int(n)), n, want[:wn], wn)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, b := range e.bytesAt(testMemBase, int(n)) {
		for ; b != 0; b &= b - 1 {
			count++
		}
	}
	if count != set.Count() {
		t.Fatalf("%d CPUs in the guest mask, host has %d (nproc would differ)", count, set.Count())
	}
}

func TestSchedAffinityLengths(t *testing.T) {
	tests := []struct {
		name    string
		fn      SyscallFn
		args    []uint64
		wantErr abi.Errno
	}{
		{"get: other pid is ESRCH", SchedGetaffinity, []uint64{999, 128, uint64(testMemBase)}, abi.ESRCH},
		{"get: length not a multiple of 8 is EINVAL", SchedGetaffinity, []uint64{0, 12, uint64(testMemBase)}, abi.EINVAL},
		{"get: zero length is EINVAL", SchedGetaffinity, []uint64{0, 0, uint64(testMemBase)}, abi.EINVAL},
		{"get: huge unaligned length is EINVAL", SchedGetaffinity, []uint64{0, 0xffffffff, uint64(testMemBase)}, abi.EINVAL},
		{"get: huge length copies only the host mask", SchedGetaffinity,
			[]uint64{0, 0xfffffff8, uint64(testMemEnd) - uint64(hostCPUMaskSize())}, 0},
		{"set: huge length reads only the host mask", SchedSetaffinity, []uint64{0, 0xfffffff8, uint64(testMemBase + 0x200)}, 0},
		{"get: bad buffer is EFAULT", SchedGetaffinity, []uint64{0, 128, uint64(testBadAddr)}, abi.EFAULT},
		{"set: empty mask is EINVAL", SchedSetaffinity, []uint64{0, 8, uint64(testMemBase + 0x100)}, abi.EINVAL},
		{"set: bad buffer is EFAULT", SchedSetaffinity, []uint64{0, 8, uint64(testBadAddr)}, abi.EFAULT},
		{"set: negative pid is EINVAL", SchedSetaffinity, []uint64{uint64(0xffffffff), 8, uint64(testMemBase)}, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			// A full mask for the set cases that should succeed.
			copy(e.bytesAt(testMemBase+0x200, 8), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			if _, err := e.call(tc.fn, tc.args...); errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
		})
	}
}

func TestSchedSetaffinityAppliesToTheThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &orig)
	cpu := -1
	for i := 0; i < 1024; i++ {
		if orig.IsSet(i) {
			cpu = i
			break
		}
	}
	e := newProcTestEnv(t)
	mask := e.bytesAt(testMemBase, 8)
	mask[cpu/8] = 1 << (cpu % 8)
	if _, err := e.call(SchedSetaffinity, 0, 8, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	var now unix.CPUSet
	if err := unix.SchedGetaffinity(0, &now); err != nil {
		t.Fatal(err)
	}
	if now.Count() != 1 || !now.IsSet(cpu) {
		t.Fatalf("thread affinity after set = %v, want only CPU %d", now, cpu)
	}
}

func TestSchedPolicyQueries(t *testing.T) {
	tests := []struct {
		name    string
		fn      SyscallFn
		args    []uint64
		want    uint64
		wantErr abi.Errno
	}{
		{"max FIFO", SchedGetPriorityMax, []uint64{abi.SCHED_FIFO}, 99, 0},
		{"min RR", SchedGetPriorityMin, []uint64{abi.SCHED_RR}, 1, 0},
		{"max OTHER", SchedGetPriorityMax, []uint64{abi.SCHED_OTHER}, 0, 0},
		{"min unknown policy", SchedGetPriorityMin, []uint64{4}, 0, abi.EINVAL},
		{"scheduler of self", SchedGetscheduler, []uint64{0}, abi.SCHED_OTHER, 0},
		{"scheduler of negative pid", SchedGetscheduler, []uint64{uint64(0xffffffff)}, 0, abi.EINVAL},
		{"scheduler of other pid", SchedGetscheduler, []uint64{77}, 0, abi.ESRCH},
		{"getparam NULL", SchedGetparam, []uint64{0, 0}, 0, abi.EINVAL},
		{"getparam self", SchedGetparam, []uint64{0, uint64(testMemBase)}, 0, 0},
		{"setparam keeps OTHER at 0", SchedSetparam, []uint64{0, uint64(testMemBase + 0x100)}, 0, 0},
		{"setscheduler negative policy", SchedSetscheduler, []uint64{0, uint64(0xffffffff), uint64(testMemBase)}, 0, abi.EINVAL},
		{"rr interval self", SchedRRGetInterval, []uint64{0, uint64(testMemBase)}, 0, 0},
		{"yield", SchedYield, nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			got, err := e.call(tc.fn, tc.args...)
			if errnoOf(err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %d, %v; want %d, errno %d", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestGetcpuIsTheFirstAllowedCPUAndNode0(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	want := 0
	for !set.IsSet(want) {
		want++
	}
	e := newProcTestEnv(t)
	copy(e.bytesAt(testMemBase, 8), []byte{9, 9, 9, 9, 9, 9, 9, 9})
	if _, err := e.call(Getcpu, uint64(testMemBase), uint64(testMemBase+4), 0); err != nil {
		t.Fatal(err)
	}
	if cpu, node := binary.LittleEndian.Uint32(e.bytesAt(testMemBase, 4)), binary.LittleEndian.Uint32(e.bytesAt(testMemBase+4, 4)); int(cpu) != want || node != 0 {
		t.Fatalf("cpu %d node %d, want %d and 0", cpu, node, want)
	}
	if _, err := e.call(Getcpu, 0, 0, 0); err != nil {
		t.Fatalf("getcpu(NULL, NULL): %v", err)
	}
	if _, err := e.call(Getcpu, uint64(testBadAddr), 0, 0); errnoOf(err) != abi.EFAULT {
		t.Fatalf("getcpu(bad): %v, want EFAULT", err)
	}
	if _, err := e.call(Getcpu, 0, uint64(testBadAddr), 0); errnoOf(err) != abi.EFAULT {
		t.Fatalf("getcpu(NULL, bad): %v, want EFAULT", err)
	}
}

func TestGetcpuNamesTheLowestAllowedCPU(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	highest := -1
	for i := 0; i < 1024; i++ {
		if orig.IsSet(i) {
			highest = i
		}
	}
	e := newProcTestEnv(t)
	var cpu uint32
	var err error
	onThrowawayThread(func() {
		var only unix.CPUSet
		only.Set(highest)
		if err = unix.SchedSetaffinity(0, &only); err != nil {
			return
		}
		if _, err = e.call(Getcpu, uint64(testMemBase), 0, 0); err == nil {
			cpu = binary.LittleEndian.Uint32(e.bytesAt(testMemBase, 4))
		}
	})
	if err != nil || int(cpu) != highest {
		t.Fatalf("getcpu with affinity {%d} = %d, %v", highest, cpu, err)
	}
}
