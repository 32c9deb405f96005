package kernel

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// sigTestCPU is a fake vCPU: registers and an FP image, nothing runs.
type sigTestCPU struct {
	regs   hvf.Regs
	fp     []byte
	fpErr  error
	setFPs int
	kicks  atomic.Int32
}

func (c *sigTestCPU) Regs() *hvf.Regs        { return &c.regs }
func (c *sigTestCPU) Run() (hvf.Exit, error) { return hvf.Exit{}, errors.New("fake vCPU cannot run") }
func (c *sigTestCPU) Kick()                  { c.kicks.Add(1) }
func (c *sigTestCPU) FSBase() uint64         { return 0 }
func (c *sigTestCPU) SetFSBase(uint64)       {}
func (c *sigTestCPU) GSBase() uint64         { return 0 }
func (c *sigTestCPU) SetGSBase(uint64)       {}
func (c *sigTestCPU) Close() error           { return nil }
func (c *sigTestCPU) FPState() ([]byte, error) {
	if c.fpErr != nil {
		return nil, c.fpErr
	}
	return append([]byte(nil), c.fp...), nil
}
func (c *sigTestCPU) SetFPState(b []byte) error {
	if len(b) != len(c.fp) {
		return abi.EINVAL
	}
	c.setFPs++
	copy(c.fp, b)
	return nil
}

// sigTestRegion is one mapping of the fake address space.
type sigTestRegion struct {
	start abi.Addr
	data  []byte
	prot  hvf.Prot
}

// sigTestMem is a []byte-backed Memory with mappings and permissions.
type sigTestMem struct{ regions []*sigTestRegion }

func (m *sigTestMem) mapRegion(start abi.Addr, n int, prot hvf.Prot) *sigTestRegion {
	r := &sigTestRegion{start: start, data: make([]byte, n), prot: prot}
	m.regions = append(m.regions, r)
	return r
}

func (m *sigTestMem) find(a abi.Addr) *sigTestRegion {
	for _, r := range m.regions {
		if a >= r.start && uint64(a-r.start) < uint64(len(r.data)) {
			return r
		}
	}
	return nil
}

// access copies byte by byte so a range crossing into unmapped memory
// gives a partial count and EFAULT, like the real MM.
func (m *sigTestMem) access(addr abi.Addr, buf []byte, write bool) (int, error) {
	for i := range buf {
		a := addr + abi.Addr(i)
		r := m.find(a)
		if r == nil || a < addr {
			return i, abi.EFAULT
		}
		need := hvf.ProtRead
		if write {
			need = hvf.ProtWrite
		}
		if r.prot&need == 0 {
			return i, abi.EFAULT
		}
		if write {
			r.data[a-r.start] = buf[i]
		} else {
			buf[i] = r.data[a-r.start]
		}
	}
	return len(buf), nil
}

func (m *sigTestMem) CopyIn(addr abi.Addr, dst []byte) (int, error) {
	return m.access(addr, dst, false)
}
func (m *sigTestMem) CopyOut(addr abi.Addr, src []byte) (int, error) {
	return m.access(addr, src, true)
}
func (m *sigTestMem) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	var out []byte
	for i := 0; i < maxLen; i++ {
		var b [1]byte
		if _, err := m.CopyIn(addr+abi.Addr(i), b[:]); err != nil {
			return "", err
		}
		if b[0] == 0 {
			return string(out), nil
		}
		out = append(out, b[0])
	}
	return "", abi.ENAMETOOLONG
}
func (m *sigTestMem) Slice(addr abi.Addr, n int, write bool) ([]byte, error) {
	r := m.find(addr)
	if r == nil || uint64(addr-r.start)+uint64(n) > uint64(len(r.data)) {
		return nil, abi.EFAULT
	}
	return r.data[addr-r.start : int(addr-r.start)+n], nil
}
func (m *sigTestMem) Lookup(addr abi.Addr) (hvf.Prot, bool) {
	if r := m.find(addr); r != nil {
		return r.prot, true
	}
	return 0, false
}

// sigTestHost is a fake Host recording the exit status.
type sigTestHost struct {
	pid      int32
	exited   bool
	exitCode uint32
}

func (h *sigTestHost) Pid() int32  { return h.pid }
func (h *sigTestHost) Ppid() int32 { return 1 }
func (h *sigTestHost) Exit(status uint32) {
	h.exited, h.exitCode = true, status
}
func (h *sigTestHost) ReleaseVfork() {}

func (h *sigTestHost) Execed(exe string, argv []string) {}

// Test address-space layout.
const (
	testStackBase  abi.Addr = 0x7000_0000
	testStackSize           = 64 << 10
	testStackTop            = testStackBase + testStackSize - 0x100
	testAltBase    abi.Addr = 0x6000_0000
	testAltSize             = 16 << 10
	testScratch    abi.Addr = 0x5000_0000 // rw scratch for syscall arguments
	testROPage     abi.Addr = 0x4000_0000 // read-only
	testHandler    abi.Addr = 0x401000
	testHandler2   abi.Addr = 0x402000
	testRestorer   abi.Addr = 0x403000
	testSyscallRIP          = 0x400802 // return address after a SYSCALL
	testFPSize              = 2432     // this machine's XSAVE size (AMD, xfeatures 0xe7)
)

// sigTestEnv is one fake process with one task.
type sigTestEnv struct {
	t    *Task
	cpu  *sigTestCPU
	mem  *sigTestMem
	host *sigTestHost
}

// newSigTestEnv builds a task whose registers all hold distinct values and
// whose FP image is a recognisable XSAVE image without sw bytes (as
// KVM_GET_XSAVE returns it).
func newSigTestEnv(tb testing.TB) *sigTestEnv {
	tb.Helper()
	mem := &sigTestMem{}
	mem.mapRegion(testStackBase, testStackSize, hvf.ProtRead|hvf.ProtWrite)
	mem.mapRegion(testAltBase, testAltSize, hvf.ProtRead|hvf.ProtWrite)
	mem.mapRegion(testScratch, 1<<16, hvf.ProtRead|hvf.ProtWrite)
	mem.mapRegion(testROPage, abi.PageSize, hvf.ProtRead)
	host := &sigTestHost{pid: 100}
	log := hclog.NewNullLogger()
	proc := &Process{
		Kernel:  &Kernel{Config: Config{Log: log}, Host: host},
		Mem:     mem,
		Signals: NewSignalHandlers(),
	}
	cpu := &sigTestCPU{fp: testFPImage(0x11)}
	r := &cpu.regs
	vals := []*uint64{&r.R15, &r.R14, &r.R13, &r.R12, &r.RBP, &r.RBX, &r.R11, &r.R10,
		&r.R9, &r.R8, &r.RAX, &r.RCX, &r.RDX, &r.RSI, &r.RDI}
	for i, p := range vals {
		*p = 0x1111_0000_0000_0000 + uint64(i)*0x0101
	}
	r.RIP = testSyscallRIP
	r.RSP = uint64(testStackTop)
	r.RFLAGS = 0x202 | abi.X86_EFLAGS_CF | abi.X86_EFLAGS_DF
	t := &Task{Proc: proc, CPU: cpu, Log: log, Tid: 100, OrigRAX: noSyscall}
	return &sigTestEnv{t: t, cpu: cpu, mem: mem, host: host}
}

// testFPImage returns an XSAVE image (legacy area, header with x87, SSE
// and AVX present) filled with a pattern derived from seed.
func testFPImage(seed byte) []byte {
	b := make([]byte, testFPSize)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	le := binary.LittleEndian
	le.PutUint16(b[abi.FXSAVE_FCW:], 0x027f)
	le.PutUint32(b[abi.FXSAVE_MXCSR:], 0x1fa0) // default with PE and round bits set
	le.PutUint32(b[abi.FXSAVE_MXCSR_MASK:], 0xffff)
	clear(b[abi.FXSAVE_SW_BYTES:abi.FXSAVE_SIZE])
	clear(b[abi.XSAVE_HDR_OFFSET : abi.XSAVE_HDR_OFFSET+abi.XSAVE_HDR_SIZE])
	le.PutUint64(b[abi.XSAVE_HDR_OFFSET:], 0x7)
	return b
}

// syscall runs one syscall the way the run loop does: dispatch, then
// signal delivery. It returns rax.
func (e *sigTestEnv) syscall(nr uint64, args ...uint64) uint64 {
	r := &e.cpu.regs
	r.RAX = nr
	regs := []*uint64{&r.RDI, &r.RSI, &r.RDX, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*regs[i] = a
	}
	e.t.Syscall()
	e.t.DeliverSignals()
	return r.RAX
}

// sigaction installs a handler through rt_sigaction.
func (e *sigTestEnv) sigaction(tb testing.TB, sig int, act abi.Sigaction) {
	tb.Helper()
	var b [abi.SizeofSigaction]byte
	act.MarshalBytes(b[:])
	if _, err := e.mem.CopyOut(testScratch, b[:]); err != nil {
		tb.Fatal(err)
	}
	if rax := e.syscall(abi.SYS_RT_SIGACTION, uint64(sig), uint64(testScratch), 0, 8); rax != 0 {
		tb.Fatalf("rt_sigaction(%d) = %d", sig, int64(rax))
	}
}

// read returns n bytes of guest memory.
func (e *sigTestEnv) read(tb testing.TB, a abi.Addr, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := e.mem.CopyIn(a, b); err != nil {
		tb.Fatalf("read %#x: %v", a, err)
	}
	return b
}

func (e *sigTestEnv) u64(tb testing.TB, a abi.Addr) uint64 {
	return binary.LittleEndian.Uint64(e.read(tb, a, 8))
}

// errno returns the errno encoded in rax, or 0.
func sigErrno(rax uint64) abi.Errno {
	if int64(rax) < 0 && int64(rax) > -4096 {
		return abi.Errno(-int64(rax))
	}
	return 0
}

// handlerAct is a typical libc sigaction for testHandler.
func handlerAct(flags uint64, mask abi.SigSet) abi.Sigaction {
	return abi.Sigaction{Handler: testHandler, Flags: flags | abi.SA_RESTORER,
		Restorer: testRestorer, Mask: mask}
}

// sigreturn simulates the handler's return: ret pops pretcode and the
// restorer issues rt_sigreturn.
func (e *sigTestEnv) sigreturn(tb testing.TB) {
	tb.Helper()
	r := &e.cpu.regs
	if got := e.u64(tb, abi.Addr(r.RSP)); got != uint64(testRestorer) {
		tb.Fatalf("pretcode at rsp = %#x, want restorer %#x", got, testRestorer)
	}
	r.RSP += 8
	r.RIP = uint64(testRestorer) + 9
	e.syscall(abi.SYS_RT_SIGRETURN)
}
