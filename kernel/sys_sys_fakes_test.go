package kernel

import (
	"bytes"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// procTestMem is a []byte-backed Memory: guest [base, base+len(buf)) is
// mapped read-write, everything else faults.
type procTestMem struct {
	base abi.Addr
	buf  []byte
}

// span returns the offset of addr and how many of n bytes from it are mapped.
func (m *procTestMem) span(addr abi.Addr, n int) (off, ok int) {
	if addr < m.base || addr >= m.base+abi.Addr(len(m.buf)) {
		return 0, 0
	}
	off = int(addr - m.base)
	return off, min(n, len(m.buf)-off)
}

func (m *procTestMem) CopyIn(addr abi.Addr, dst []byte) (int, error) {
	off, n := m.span(addr, len(dst))
	copy(dst, m.buf[off:off+n])
	if n < len(dst) {
		return n, abi.EFAULT
	}
	return n, nil
}

func (m *procTestMem) CopyOut(addr abi.Addr, src []byte) (int, error) {
	off, n := m.span(addr, len(src))
	copy(m.buf[off:off+n], src)
	if n < len(src) {
		return n, abi.EFAULT
	}
	return n, nil
}

func (m *procTestMem) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	off, n := m.span(addr, maxLen+1)
	if i := bytes.IndexByte(m.buf[off:off+n], 0); i >= 0 {
		return string(m.buf[off : off+i]), nil
	}
	if n == maxLen+1 {
		return "", abi.ENAMETOOLONG
	}
	return "", abi.EFAULT
}

func (m *procTestMem) Slice(addr abi.Addr, n int, write bool) ([]byte, error) {
	off, got := m.span(addr, n)
	if got < n {
		return nil, abi.EFAULT
	}
	return m.buf[off : off+n], nil
}

// procTestHost is a Host with fixed ids that records exits.
type procTestHost struct {
	pid, ppid int32
	exits     []uint32
}

func (h *procTestHost) Pid() int32                       { return h.pid }
func (h *procTestHost) Ppid() int32                      { return h.ppid }
func (h *procTestHost) Exit(status uint32)               { h.exits = append(h.exits, status) }
func (h *procTestHost) ReleaseVfork()                    {}
func (h *procTestHost) Execed(exe string, argv []string) {}

// procTestCPU is a VCPU that only holds registers and segment bases.
type procTestCPU struct {
	regs   hvf.Regs
	fs, gs uint64
}

func (c *procTestCPU) Regs() *hvf.Regs           { return &c.regs }
func (c *procTestCPU) Run() (hvf.Exit, error)    { return hvf.Exit{}, nil }
func (c *procTestCPU) Kick()                     {}
func (c *procTestCPU) FSBase() uint64            { return c.fs }
func (c *procTestCPU) SetFSBase(v uint64)        { c.fs = v }
func (c *procTestCPU) GSBase() uint64            { return c.gs }
func (c *procTestCPU) SetGSBase(v uint64)        { c.gs = v }
func (c *procTestCPU) FPState() ([]byte, error)  { return make([]byte, 512), nil }
func (c *procTestCPU) SetFPState(b []byte) error { return nil }
func (c *procTestCPU) Close() error              { return nil }

// Guest addresses of the test memory.
const (
	testMemBase = abi.Addr(0x10000)
	testMemSize = 0x10000
	testMemEnd  = testMemBase + testMemSize
	// testBadAddr is never mapped.
	testBadAddr = abi.Addr(0x1000)
)

// procTestEnv is a task with fake memory, host and CPU.
type procTestEnv struct {
	t    *Task
	mem  *procTestMem
	host *procTestHost
	cpu  *procTestCPU
}

func newProcTestEnv(tb testing.TB) *procTestEnv {
	tb.Helper()
	e := &procTestEnv{
		mem:  &procTestMem{base: testMemBase, buf: make([]byte, testMemSize)},
		host: &procTestHost{pid: 1, ppid: 0},
		cpu:  &procTestCPU{},
	}
	k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Host: e.host}
	p := &Process{Kernel: k, Mem: e.mem, Exe: "/usr/local/bin/a-rather-long-program"}
	e.t = &Task{Proc: p, CPU: e.cpu, Log: k.Log, Tid: 1, inSyscall: -1}
	return e
}

// call runs a handler with up to six arguments.
func (e *procTestEnv) call(fn SyscallFn, args ...uint64) (uint64, error) {
	var a Args
	copy(a[:], args)
	return fn(e.t, &a)
}

// bytesAt returns n bytes of test memory at addr.
func (e *procTestEnv) bytesAt(addr abi.Addr, n int) []byte {
	off := int(addr - e.mem.base)
	return e.mem.buf[off : off+n]
}

// errnoOf returns the Linux errno of a handler error (0 for nil).
func errnoOf(err error) abi.Errno {
	if err == nil {
		return 0
	}
	return toErrno(err)
}

// rootCaps are the capability sets of an unconfined root process.
var rootCaps = Caps{Effective: capValid, Permitted: capValid, Bounding: capValid}
