package ptrace

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// A static C program run by a minimal in-test kernel proves that real
// compiler output (glibc start-up, TLS, IFUNC-selected AVX string functions,
// malloc) runs on the backend, not just hand-written instructions.
const helloC = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	char *p = malloc(1 << 20);
	memset(p, 7, 1 << 20);
	char *q = malloc(1 << 20);
	memcpy(q, p, 1 << 20);
	printf("hello %s %d %zu\n", argc > 1 ? argv[1] : "none", q[12345], strlen(argv[0]));
	return 3;
}
`

const (
	e2eMemSize   = 1 << 33 // sparse: the memfd offset is the guest address
	e2eStackTop  = 0x7f000000
	e2eStackSize = 1 << 20
	e2eMmapBase  = 0x100000000
)

// miniKernel serves just enough of Linux for a static glibc program.
type miniKernel struct {
	t      *testing.T
	m      *machine
	cpu    hvf.VCPU
	fd     int
	mem    []byte
	brk    uint64
	mapTop uint64
	out    bytes.Buffer
	exit   int
}

func TestStaticBinaryRuns(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.c")
	bin := filepath.Join(dir, "hello")
	if err := os.WriteFile(src, []byte(helloC), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-static", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("gcc -static failed (no static libc?): %v\n%s", err, out)
	}
	runStatic(t, []string{bin, "arg"}, 3)
}

func TestStaticBusyboxRuns(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	f, err := elf.Open(bb)
	if err != nil {
		t.Skipf("busybox: %v", err)
	}
	static := true
	for _, p := range f.Progs {
		static = static && p.Type != elf.PT_INTERP
	}
	f.Close()
	if !static {
		t.Skip("busybox is not statically linked")
	}
	runStatic(t, []string{bb, "echo", "hello", "from", "busybox"}, 0)
}

// runStatic runs a static executable natively and under the backend and
// compares standard output and exit status.
func runStatic(t *testing.T, argv []string, wantExit int) {
	native, _ := exec.Command(argv[0], argv[1:]...).Output()
	if len(native) == 0 {
		t.Fatalf("native run of %v printed nothing", argv)
	}

	g := newGuest(t, nil)
	k := &miniKernel{t: t, m: g.m, cpu: g.cpu, mapTop: e2eMmapBase}
	var err error
	k.fd, err = unix.MemfdCreate("e2e", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(k.fd) })
	if err := unix.Ftruncate(k.fd, e2eMemSize); err != nil {
		t.Fatal(err)
	}
	k.mem, err = unix.Mmap(k.fd, 0, e2eMemSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(k.mem) })
	k.load(argv[0], argv)
	exits := 0
	for k.exit < 0 {
		ex, err := k.cpu.Run()
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if ex.Reason != hvf.ExitSyscall {
			t.Fatalf("unexpected exit %+v at rip %#x", ex, k.cpu.Regs().RIP)
		}
		exits++
		k.syscall()
	}
	if k.exit != wantExit {
		t.Errorf("exit status = %d, want %d", k.exit, wantExit)
	}
	if !bytes.Equal(k.out.Bytes(), native) {
		t.Errorf("output = %q, native run printed %q", k.out.Bytes(), native)
	}
	t.Logf("%d syscall exits", exits)
}

func (k *miniKernel) mapAnon(addr, length uint64, prot hvf.Prot) {
	k.t.Helper()
	if err := k.m.Map(addr, length, prot, k.fd, int64(addr)); err != nil {
		k.t.Fatalf("Map %#x+%#x: %v", addr, length, err)
	}
}

func pageUp(x uint64) uint64 { return (x + pageSize - 1) &^ (pageSize - 1) }

// load copies the PT_LOAD segments at their addresses and builds the
// initial stack, as the kernel's loader would.
func (k *miniKernel) load(path string, argv []string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		k.t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		k.t.Fatal(err)
	}
	phoff := binary.LittleEndian.Uint64(raw[32:]) // e_phoff
	var phdr uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Off == 0 {
			phdr = p.Vaddr + phoff
		}
		copy(k.mem[p.Vaddr:p.Vaddr+p.Filesz], raw[p.Off:p.Off+p.Filesz])
		start := p.Vaddr &^ (pageSize - 1)
		end := pageUp(p.Vaddr + p.Memsz)
		prot := hvf.ProtRead
		if p.Flags&elf.PF_W != 0 {
			prot |= hvf.ProtWrite
		}
		if p.Flags&elf.PF_X != 0 {
			prot |= hvf.ProtExec
		}
		k.mapAnon(start, end-start, prot)
		if end > k.brk {
			k.brk = end
		}
	}
	k.mapAnon(e2eStackTop-e2eStackSize, e2eStackSize, hvf.ProtRead|hvf.ProtWrite)

	// Strings at the top, then the vectors below, 16-byte aligned.
	sp := uint64(e2eStackTop)
	push := func(b []byte) uint64 {
		sp -= uint64(len(b))
		copy(k.mem[sp:], b)
		return sp
	}
	var argp []uint64
	for _, a := range argv {
		argp = append(argp, push(append([]byte(a), 0)))
	}
	random := push(bytes.Repeat([]byte{0x5a}, 16))
	platform := push([]byte("x86_64\x00"))
	sp &^= 15
	// Auxiliary vector keys (include/uapi/linux/auxvec.h).
	const (
		atNull, atPhdr, atPhent, atPhnum, atPagesz, atEntry = 0, 3, 4, 5, 6, 9
		atPlatform, atSecure, atRandom                      = 15, 23, 25
	)
	auxv := []uint64{
		atPhdr, phdr, atPhent, 56, atPhnum, uint64(len(f.Progs)),
		atPagesz, pageSize, atEntry, f.Entry, atRandom, random,
		atPlatform, platform, atSecure, 0, atNull, 0,
	}
	words := []uint64{uint64(len(argv))}
	words = append(words, argp...)
	words = append(words, 0, 0) // argv NULL, empty envp NULL
	words = append(words, auxv...)
	if len(words)%2 != 0 {
		sp -= 8
	}
	sp -= uint64(8 * len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(k.mem[sp+uint64(8*i):], w)
	}
	r := k.cpu.Regs()
	*r = hvf.Regs{RIP: f.Entry, RSP: sp, RFLAGS: 0x202}
	k.exit = -1
}

const (
	enosys = -int64(unix.ENOSYS)
	einval = -int64(unix.EINVAL)
)

// syscall serves one syscall exit; unknown numbers get ENOSYS.
func (k *miniKernel) syscall() {
	r := k.cpu.Regs()
	a0, a1, a2 := r.RDI, r.RSI, r.RDX
	ret := enosys
	switch r.RAX {
	case unix.SYS_WRITE:
		if a0 == 1 || a0 == 2 {
			k.out.Write(k.mem[a1 : a1+a2])
			ret = int64(a2)
		}
	case unix.SYS_BRK:
		ret = int64(k.brk)
		if a0 > k.brk && a0 < e2eStackTop-e2eStackSize {
			k.mapAnon(k.brk, pageUp(a0)-k.brk, hvf.ProtRead|hvf.ProtWrite)
			k.brk = pageUp(a0)
			ret = int64(a0)
		}
	case unix.SYS_MMAP:
		flags := r.R10
		if flags&unix.MAP_ANONYMOUS == 0 || a1 == 0 {
			ret = einval
			break
		}
		addr := a0
		if flags&unix.MAP_FIXED == 0 {
			addr = k.mapTop
			k.mapTop += pageUp(a1)
		}
		k.mapAnon(addr, pageUp(a1), hostToProt(a2))
		ret = int64(addr)
	case unix.SYS_MUNMAP:
		if err := k.m.Unmap(a0, pageUp(a1)); err != nil {
			k.t.Fatalf("Unmap: %v", err)
		}
		ret = 0
	case unix.SYS_MPROTECT:
		if err := k.m.Protect(a0, pageUp(a1), hostToProt(a2)); err != nil {
			k.t.Fatalf("Protect: %v", err)
		}
		ret = 0
	case unix.SYS_ARCH_PRCTL:
		if a0 == 0x1002 { // ARCH_SET_FS
			k.cpu.SetFSBase(a1)
			ret = 0
		} else {
			ret = einval
		}
	case unix.SYS_SET_TID_ADDRESS:
		ret = 1
	case unix.SYS_EXIT_GROUP, unix.SYS_EXIT:
		k.exit = int(a0 & 0xff)
		return
	}
	r.RAX = uint64(ret)
}

func hostToProt(p uint64) hvf.Prot {
	var r hvf.Prot
	if p&unix.PROT_READ != 0 {
		r |= hvf.ProtRead
	}
	if p&unix.PROT_WRITE != 0 {
		r |= hvf.ProtWrite
	}
	if p&unix.PROT_EXEC != 0 {
		r |= hvf.ProtExec
	}
	return r
}
