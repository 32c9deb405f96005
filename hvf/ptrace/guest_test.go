package ptrace

import (
	"encoding/binary"
	"runtime"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// Guest layout used by the tests. The memfd's offset equals the guest
// address, as in the kernel's guest RAM.
const (
	codeAddr  = 0x400000
	dataAddr  = 0x401000
	stackTop  = 0x404000
	extraAddr = 0x405000 // mapped by individual tests
	memSize   = 0x800000
)

// asm builds x86-64 machine code. Encodings were checked against GNU as.
type asm struct{ b []byte }

// at returns the guest address of the next instruction.
func (a *asm) at() uint64 { return codeAddr + uint64(len(a.b)) }

func (a *asm) raw(b ...byte) *asm { a.b = append(a.b, b...); return a }

// movEAX emits mov $imm,%eax.
func (a *asm) movEAX(imm uint32) *asm {
	a.raw(0xb8)
	a.b = binary.LittleEndian.AppendUint32(a.b, imm)
	return a
}

func (a *asm) syscall() *asm { return a.raw(0x0f, 0x05) }

// storeRAX emits movabs %rax,addr.
func (a *asm) storeRAX(addr uint64) *asm {
	a.raw(0x48, 0xa3)
	a.b = binary.LittleEndian.AppendUint64(a.b, addr)
	return a
}

// loadRAX emits movabs addr,%rax.
func (a *asm) loadRAX(addr uint64) *asm {
	a.raw(0x48, 0xa1)
	a.b = binary.LittleEndian.AppendUint64(a.b, addr)
	return a
}

// jmpTo emits a short jmp to an earlier address.
func (a *asm) jmpTo(target uint64) *asm {
	rel := int64(target) - int64(a.at()+2)
	return a.raw(0xeb, byte(int8(rel)))
}

// guest is a machine with code, data and stack pages mapped from a memfd that
// the test also maps, to see what the guest wrote.
type guest struct {
	t   testing.TB
	m   *machine
	cpu hvf.VCPU
	fd  int
	mem []byte
}

var testBackend struct {
	once sync.Once
	b    hvf.Backend
	err  error
}

// newGuest locks the calling goroutine to its thread (for the rest of the
// test: the thread exits with it) and starts a guest running code.
func newGuest(t testing.TB, code []byte) *guest {
	t.Helper()
	runtime.LockOSThread()
	testBackend.once.Do(func() { testBackend.b, testBackend.err = New(hclog.NewNullLogger()) })
	if testBackend.err != nil {
		t.Fatalf("New: %v", testBackend.err)
	}
	hm, err := testBackend.b.NewMachine(hvf.Config{AddrLimit: 1 << 46})
	if err != nil {
		t.Fatalf("NewMachine: %v", err)
	}
	m := hm.(*machine)
	t.Cleanup(func() { m.Close() })
	fd, err := unix.MemfdCreate("guest", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, memSize); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, memSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	g := &guest{t: t, fd: fd, mem: mem}
	g.load(m, code)
	return g
}

// load makes m the guest's machine: code at codeAddr, the data and stack
// pages mapped, and a vCPU at the code's start.
func (g *guest) load(m *machine, code []byte) {
	g.t.Helper()
	copy(g.mem[codeAddr:], code)
	if err := m.Map(codeAddr, pageSize, hvf.ProtRead|hvf.ProtExec, g.fd, codeAddr); err != nil {
		g.t.Fatalf("Map code: %v", err)
	}
	if err := m.Map(dataAddr, stackTop-dataAddr, hvf.ProtRead|hvf.ProtWrite, g.fd, dataAddr); err != nil {
		g.t.Fatalf("Map data: %v", err)
	}
	cpu, err := m.NewVCPU()
	if err != nil {
		g.t.Fatalf("NewVCPU: %v", err)
	}
	r := cpu.Regs()
	r.RIP, r.RSP, r.RFLAGS = codeAddr, stackTop, 0x202
	g.m, g.cpu = m, cpu
}

func (g *guest) run() hvf.Exit {
	g.t.Helper()
	ex, err := g.cpu.Run()
	if err != nil {
		g.t.Fatalf("Run: %v", err)
	}
	return ex
}

func (g *guest) word(addr uint64) uint64 {
	return binary.LittleEndian.Uint64(g.mem[addr:])
}

func (g *guest) setWord(addr, v uint64) {
	binary.LittleEndian.PutUint64(g.mem[addr:], v)
}

// expectSyscall runs the guest and checks for a syscall exit with number nr.
func (g *guest) expectSyscall(nr uint64) {
	g.t.Helper()
	ex := g.run()
	if ex.Reason != hvf.ExitSyscall {
		g.t.Fatalf("exit = %+v (rip %#x), want a syscall exit", ex, g.cpu.Regs().RIP)
	}
	if got := g.cpu.Regs().RAX; got != nr {
		g.t.Fatalf("syscall number = %d, want %d", got, nr)
	}
}

// storeReg emits mov %r<n>,addr (n in the hardware numbering: 0 rax, 1 rcx,
// 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8-15 r8-r15); addr < 2 GiB.
func (a *asm) storeReg(n int, addr uint32) *asm {
	rex := byte(0x48)
	if n >= 8 {
		rex |= 0x04
	}
	a.raw(rex, 0x89, 0x04|byte(n&7)<<3, 0x25)
	a.b = binary.LittleEndian.AppendUint32(a.b, addr)
	return a
}
