package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// loopCPU is a vCPU whose guest makes n syscalls of number nr and then
// exit_group(0), without any backend: Run returns at once.
type loopCPU struct {
	procTestCPU
	nr   uint64
	left int
}

func (c *loopCPU) Run() (hvf.Exit, error) {
	r := c.Regs()
	if c.left == 0 {
		*r = hvf.Regs{RAX: abi.SYS_EXIT_GROUP}
	} else {
		c.left--
		*r = hvf.Regs{RAX: c.nr}
	}
	return hvf.Exit{Reason: hvf.ExitSyscall}, nil
}

// benchmarkKernelExit measures the kernel's own share of one syscall exit:
// the run loop, the dispatcher, the handler and the signal check, with a
// vCPU that costs nothing. The backend's round trip comes on top.
func benchmarkKernelExit(b *testing.B, nr uint64, timeout int) {
	e := newProcTestEnv(b)
	e.t.Proc.InitState()
	e.t.Proc.Kernel.Timeout = timeout
	cpu := &loopCPU{nr: nr, left: b.N}
	e.t.CPU = cpu
	b.ReportAllocs()
	b.ResetTimer()
	status, err := e.t.Run()
	if err != nil || status != 0 {
		b.Fatalf("Run = %#x, %v", status, err)
	}
}

func BenchmarkKernelExitGetppid(b *testing.B)         { benchmarkKernelExit(b, abi.SYS_GETPPID, 0) }
func BenchmarkKernelExitENOSYS(b *testing.B)          { benchmarkKernelExit(b, 1023, 0) }
func BenchmarkKernelExitGetppidWatchdog(b *testing.B) { benchmarkKernelExit(b, abi.SYS_GETPPID, 10) }
