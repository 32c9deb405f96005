package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// newMMTask returns a task whose process has a real MM on a fake machine.
func newMMTask(t *testing.T) (*Task, *MM) {
	t.Helper()
	m, _ := newTestMM(t)
	p := &Process{MM: m, Mem: m, FDs: NewFDTable(), Signals: NewSignalHandlers()}
	return &Task{Proc: p, CPU: &fakeVCPU{}, Log: hclog.NewNullLogger(), inSyscall: -1}, m
}

// syscall runs one syscall through the table as the guest would and
// returns rax.
func doSyscall(t *Task, nr uint64, args ...uint64) uint64 {
	r := t.CPU.Regs()
	var a [6]uint64
	copy(a[:], args)
	*r = hvfRegs(nr, a)
	t.Syscall()
	return r.RAX
}

func errno(e abi.Errno) uint64 { return -uint64(e) }

func TestMMSyscallsThroughTheTable(t *testing.T) {
	task, m := newMMTask(t)
	m.SetBrkStart(0x800000)
	const fixed = abi.MAP_PRIVATE | abi.MAP_ANONYMOUS | abi.MAP_FIXED
	steps := []struct {
		name string
		nr   uint64
		args []uint64
		want uint64
	}{
		{"brk(0) reports the start", abi.SYS_BRK, []uint64{0}, 0x800000},
		{"brk grows", abi.SYS_BRK, []uint64{0x800010}, 0x800010},
		{"mmap fixed anonymous", abi.SYS_MMAP, []uint64{0x1000000, 2 * pg, rw, fixed, ^uint64(0), 0}, 0x1000000},
		{"mmap unaligned offset", abi.SYS_MMAP, []uint64{0, pg, rw, abi.MAP_PRIVATE, 3, 5}, errno(abi.EINVAL)},
		{"mmap of a bad descriptor", abi.SYS_MMAP, []uint64{0, pg, rw, abi.MAP_PRIVATE, 99, 0}, errno(abi.EBADF)},
		{"mmap zero length", abi.SYS_MMAP, []uint64{0, 0, rw, abi.MAP_PRIVATE | abi.MAP_ANONYMOUS, ^uint64(0), 0}, errno(abi.EINVAL)},
		{"mprotect read-only", abi.SYS_MPROTECT, []uint64{0x1000000, pg, abi.PROT_READ}, 0},
		{"mprotect a hole", abi.SYS_MPROTECT, []uint64{0x2000000, pg, abi.PROT_READ}, errno(abi.ENOMEM)},
		{"madvise dontneed", abi.SYS_MADVISE, []uint64{0x1000000, pg, abi.MADV_DONTNEED}, 0},
		{"msync both flags", abi.SYS_MSYNC, []uint64{0x1000000, pg, abi.MS_SYNC | abi.MS_ASYNC}, errno(abi.EINVAL)},
		{"msync", abi.SYS_MSYNC, []uint64{0x1000000, pg, abi.MS_SYNC}, 0},
		{"mincore into guest memory", abi.SYS_MINCORE, []uint64{0x1000000, 2 * pg, 0x1000000 + pg}, 0},
		{"mincore to a read-only vector", abi.SYS_MINCORE, []uint64{0x1000000, pg, 0x1000000}, errno(abi.EFAULT)},
		{"mincore unaligned", abi.SYS_MINCORE, []uint64{0x1000001, pg, 0x1000000 + pg}, errno(abi.EINVAL)},
		{"mincore past the limit", abi.SYS_MINCORE, []uint64{uint64(testLimit) - pg, 2 * pg, 0x1000000 + pg}, errno(abi.ENOMEM)},
		{"mremap across two VMAs", abi.SYS_MREMAP, []uint64{0x1000000, 2 * pg, 3 * pg, 0, 0}, errno(abi.EFAULT)},
		{"mremap grow in place", abi.SYS_MREMAP, []uint64{0x1000000 + pg, pg, 2 * pg, 0, 0}, 0x1000000 + pg},
		{"munmap", abi.SYS_MUNMAP, []uint64{0x1000000, 3 * pg}, 0},
		{"munmap unaligned", abi.SYS_MUNMAP, []uint64{0x1000001, pg}, errno(abi.EINVAL)},
	}
	for _, s := range steps {
		if got := doSyscall(task, s.nr, s.args...); got != s.want {
			t.Fatalf("%s: rax = %#x, want %#x", s.name, got, s.want)
		}
	}
	names := map[string]bool{}
	for nr, s := range Table() {
		switch nr {
		case abi.SYS_BRK, abi.SYS_MMAP, abi.SYS_MUNMAP, abi.SYS_MPROTECT, abi.SYS_MREMAP,
			abi.SYS_MADVISE, abi.SYS_MSYNC, abi.SYS_MINCORE:
			names[s.Name] = true
		}
	}
	if len(names) != 8 {
		t.Fatalf("mm syscalls registered: %v", names)
	}
}
