package ptrace

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

func TestSyscallExitsCarryNumberArgsAndKernelResult(t *testing.T) {
	var a asm
	a.movEAX(39).syscall()
	afterFirst := a.at()
	a.storeRAX(dataAddr).movEAX(60).syscall()
	g := newGuest(t, a.b)
	r := g.cpu.Regs()
	r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9 = 1, 2, 3, 4, 5, 6

	g.expectSyscall(39)
	if r.RIP != afterFirst {
		t.Errorf("RIP at syscall exit = %#x, want the return address %#x", r.RIP, afterFirst)
	}
	if r.RCX != r.RIP || r.R11 != r.RFLAGS {
		t.Errorf("RCX/R11 = %#x/%#x, want RIP/RFLAGS %#x/%#x as SYSCALL leaves them", r.RCX, r.R11, r.RIP, r.RFLAGS)
	}
	if got := [6]uint64{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}; got != [6]uint64{1, 2, 3, 4, 5, 6} {
		t.Errorf("arguments = %v, want 1..6", got)
	}
	if r.RFLAGS&0x200 == 0 {
		t.Errorf("RFLAGS %#x lost IF", r.RFLAGS)
	}
	r.RAX = 0x1234_5678_9abc
	g.expectSyscall(60)
	if got := g.word(dataAddr); got != 0x1234_5678_9abc {
		t.Errorf("guest stored RAX %#x after the first syscall, want the kernel's %#x", got, 0x1234_5678_9abc)
	}
}

func TestSyscallWithUnchangedRegistersReturnsTheNumber(t *testing.T) {
	// The host kernel leaves -ENOSYS in RAX at a SYSEMU stop; a caller
	// that does not touch RAX must not expose it.
	var a asm
	a.movEAX(102).syscall().storeRAX(dataAddr).movEAX(60).syscall()
	g := newGuest(t, a.b)
	g.expectSyscall(102)
	g.expectSyscall(60)
	if got := g.word(dataAddr); got != 102 {
		t.Errorf("guest saw RAX %#x after an untouched syscall exit, want 102", got)
	}
}

func TestFaultsBecomeExceptions(t *testing.T) {
	tests := []struct {
		name string
		code func(a *asm) (faultRIP uint64)
		// orAt also accepts RIP at the start of the one-byte
		// instruction: where the host reports it (see the case).
		orAt      bool
		prot      hvf.Prot // of the page at extraAddr; 0 leaves it unmapped
		vector    uint8
		errorCode uint64
		faultAddr uint64
	}{
		{
			name: "write to unmapped page is a not-present #PF",
			code: func(a *asm) uint64 {
				rip := a.at()
				a.storeRAX(0x1000_0000)
				return rip
			},
			vector: hvf.VectorPF, errorCode: hvf.PFUser, faultAddr: 0x1000_0000,
		},
		{
			name: "write to read-only page is a present write #PF",
			code: func(a *asm) uint64 {
				rip := a.at()
				a.storeRAX(extraAddr + 8)
				return rip
			},
			prot:   hvf.ProtRead,
			vector: hvf.VectorPF, errorCode: hvf.PFPresent | hvf.PFWrite | hvf.PFUser, faultAddr: extraAddr + 8,
		},
		{
			name: "jump to non-executable page is an instruction-fetch #PF",
			code: func(a *asm) uint64 {
				a.raw(0x48, 0xb8) // movabs $extraAddr,%rax
				a.b = append(a.b, 0x00, 0x50, 0x40, 0, 0, 0, 0, 0)
				a.raw(0xff, 0xe0) // jmp *%rax
				return extraAddr
			},
			prot:   hvf.ProtRead | hvf.ProtWrite,
			vector: hvf.VectorPF, errorCode: hvf.PFPresent | hvf.PFUser | hvf.PFInstr, faultAddr: extraAddr,
		},
		{
			name: "ud2 is #UD at the instruction",
			code: func(a *asm) uint64 {
				a.raw(0x90)
				rip := a.at()
				a.raw(0x0f, 0x0b)
				return rip
			},
			vector: hvf.VectorUD,
		},
		{
			name: "int3 is #BP after the instruction",
			code: func(a *asm) uint64 {
				a.raw(0x90, 0xcc)
				return a.at()
			},
			vector: hvf.VectorBP,
		},
		{
			// A trap after the instruction on Intel and bare-metal
			// AMD; some AMD hypervisors re-inject the intercepted
			// INT1 with RIP at it, and a native program's SIGTRAP
			// frame there says the same (seen on an AMD EPYC guest):
			// the stub reports what the host kernel saw.
			name: "icebp is #DB after the instruction",
			code: func(a *asm) uint64 {
				a.raw(0xf1)
				return a.at()
			},
			vector: hvf.VectorDB, orAt: true,
		},
		{
			name: "single step with TF is #DB after the instruction",
			code: func(a *asm) uint64 {
				a.raw(0x9c)                         // pushfq
				a.raw(0x48, 0x81, 0x0c, 0x24)       // orq $0x100,(%rsp)
				a.b = append(a.b, 0x00, 0x01, 0, 0) //   imm32
				a.raw(0x9d)                         // popfq: TF set, traps after the next one
				a.raw(0x90)                         // nop
				return a.at()
			},
			vector: hvf.VectorDB,
		},
		{
			name: "divide by zero is #DE at the div",
			code: func(a *asm) uint64 {
				a.raw(0x31, 0xc9) // xor %ecx,%ecx
				rip := a.at()
				a.raw(0xf7, 0xf1) // div %ecx
				return rip
			},
			vector: hvf.VectorDE,
		},
		{
			name: "hlt in user mode is #GP",
			code: func(a *asm) uint64 {
				rip := a.at()
				a.raw(0xf4)
				return rip
			},
			vector: hvf.VectorGP,
		},
		{
			name: "non-canonical address is #GP",
			code: func(a *asm) uint64 {
				rip := a.at()
				a.loadRAX(0x8000_0000_0000_0000)
				return rip
			},
			vector: hvf.VectorGP,
		},
		{
			name: "int $0x21 is #GP with the IDT error code",
			code: func(a *asm) uint64 {
				rip := a.at()
				a.raw(0xcd, 0x21)
				return rip
			},
			vector: hvf.VectorGP, errorCode: 0x21<<3 | 2,
		},
		{
			name: "int $0x80 is #GP at the int with the IDT error code",
			code: func(a *asm) uint64 {
				a.movEAX(20)
				rip := a.at()
				a.raw(0xcd, 0x80)
				return rip
			},
			vector: hvf.VectorGP, errorCode: 0x80<<3 | 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a asm
			rip := tt.code(&a)
			g := newGuest(t, a.b)
			if tt.prot != 0 {
				if err := g.m.Map(extraAddr, pageSize, tt.prot, g.fd, extraAddr); err != nil {
					t.Fatal(err)
				}
			}
			ex := g.run()
			want := hvf.Exit{Reason: hvf.ExitException, Vector: tt.vector, ErrorCode: tt.errorCode, FaultAddr: tt.faultAddr}
			if ex != want {
				t.Errorf("exit = %+v, want %+v", ex, want)
			}
			if got := g.cpu.Regs().RIP; got != rip && !(tt.orAt && got == rip-1) {
				t.Errorf("RIP = %#x, want %#x", got, rip)
			}
		})
	}
}

func TestExceptionCanBeResumedAtANewRIP(t *testing.T) {
	// A kernel delivering a signal rewrites RIP/RSP after an exception;
	// the fault itself must not be re-raised by the host.
	var a asm
	a.raw(0x0f, 0x0b) // ud2
	handler := a.at()
	a.movEAX(15).syscall()
	g := newGuest(t, a.b)
	if ex := g.run(); ex.Vector != hvf.VectorUD {
		t.Fatalf("exit = %+v, want #UD", ex)
	}
	g.cpu.Regs().RIP = handler
	g.expectSyscall(15)
}

func TestProtectAndUnmapTakeEffect(t *testing.T) {
	var a asm
	loop := a.at()
	a.loadRAX(extraAddr).syscall().jmpTo(loop)
	g := newGuest(t, a.b)
	g.setWord(extraAddr, 5)
	g.setWord(extraAddr+pageSize, 9)
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(5)

	if err := g.m.Protect(extraAddr, pageSize, 0); err != nil {
		t.Fatal(err)
	}
	ex := g.run()
	want := hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorPF,
		ErrorCode: hvf.PFPresent | hvf.PFUser | hvf.PFWrite, FaultAddr: extraAddr}
	if ex != want {
		t.Fatalf("load from PROT_NONE page: exit = %+v, want %+v", ex, want)
	}
	if g.cpu.Regs().RIP != loop {
		t.Fatalf("fault RIP = %#x, want %#x", g.cpu.Regs().RIP, loop)
	}

	if err := g.m.Protect(extraAddr, pageSize, hvf.ProtRead); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(5)

	if err := g.m.Unmap(extraAddr, pageSize); err != nil {
		t.Fatal(err)
	}
	ex = g.run()
	want = hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorPF, ErrorCode: hvf.PFUser, FaultAddr: extraAddr}
	if ex != want {
		t.Fatalf("load from unmapped page: exit = %+v, want %+v", ex, want)
	}

	// Remapping at another offset of the same memfd shows that page.
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr+pageSize); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(9)
	// And a write through the caller's mapping is seen by the guest.
	g.setWord(extraAddr+pageSize, 11)
	g.expectSyscall(11)
}

func TestKickInterruptsASpinningGuest(t *testing.T) {
	var a asm
	spin := a.at()
	a.raw(0xeb, 0xfe) // jmp .
	next := a.at()
	a.movEAX(24).syscall()
	g := newGuest(t, a.b)

	cpu := g.cpu
	timer := time.AfterFunc(50*time.Millisecond, cpu.Kick)
	defer timer.Stop()
	start := time.Now()
	ex := g.run()
	if ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("exit = %+v, want ExitInterrupted", ex)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("Run returned after %v, before the kick", d)
	}
	if got := g.cpu.Regs().RIP; got != spin {
		t.Errorf("RIP = %#x, want the spin loop %#x", got, spin)
	}

	// A kick while stopped makes the next Run return early.
	g.cpu.Kick()
	if ex := g.run(); ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("Run after a kick while stopped: exit = %+v, want ExitInterrupted", ex)
	}

	// The interrupted guest can be redirected by writing registers.
	g.cpu.Regs().RIP = next
	g.expectSyscall(24)
}

func TestKickDuringMapIsNotLost(t *testing.T) {
	var a asm
	a.raw(0xeb, 0xfe) // jmp .
	g := newGuest(t, a.b)
	g.cpu.Kick()
	// The SIGURG is pending when Map injects its syscalls.
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
		t.Fatal(err)
	}
	if ex := g.run(); ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("exit = %+v, want ExitInterrupted", ex)
	}
}

func TestFSAndGSBaseAreWhatSegmentLoadsRead(t *testing.T) {
	var a asm
	a.raw(0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0) // mov %fs:0,%rax
	a.storeRAX(dataAddr + 0x100)
	a.raw(0x65, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0) // mov %gs:0,%rax
	a.storeRAX(dataAddr + 0x108)
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	g.setWord(dataAddr+0x10, 0xf5f5)
	g.setWord(dataAddr+0x20, 0x6565)
	g.cpu.SetFSBase(dataAddr + 0x10)
	g.cpu.SetGSBase(dataAddr + 0x20)
	g.expectSyscall(60)
	if got := g.word(dataAddr + 0x100); got != 0xf5f5 {
		t.Errorf("%%fs:0 = %#x, want %#x", got, 0xf5f5)
	}
	if got := g.word(dataAddr + 0x108); got != 0x6565 {
		t.Errorf("%%gs:0 = %#x, want %#x", got, 0x6565)
	}
	if got := g.cpu.FSBase(); got != dataAddr+0x10 {
		t.Errorf("FSBase() = %#x after an exit, want %#x", got, dataAddr+0x10)
	}
	if got := g.cpu.GSBase(); got != dataAddr+0x20 {
		t.Errorf("GSBase() = %#x after an exit, want %#x", got, dataAddr+0x20)
	}
}

func TestCallsFromAnotherThreadAreRefused(t *testing.T) {
	g := newGuest(t, new(asm).movEAX(60).syscall().b)
	errc := make(chan [3]error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_, runErr := g.cpu.Run()
		errc <- [3]error{
			g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr),
			runErr,
			g.m.Unmap(extraAddr, pageSize),
		}
	}()
	for i, err := range <-errc {
		if err == nil || !strings.Contains(err.Error(), "belongs to thread") {
			t.Errorf("call %d from a foreign thread = %v, want the wrong-thread error", i, err)
		}
	}
	// The owner thread still works.
	g.expectSyscall(60)
}

func TestSecondVCPUIsRefused(t *testing.T) {
	g := newGuest(t, nil)
	if _, err := g.m.NewVCPU(); err == nil {
		t.Fatal("second NewVCPU succeeded, want an error")
	}
}

func TestStubDeathIsAnError(t *testing.T) {
	var a asm
	a.raw(0xeb, 0xfe)
	g := newGuest(t, a.b)
	if err := unix.Kill(g.m.pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := g.cpu.Run(); err == nil {
		t.Fatal("Run after the stub was killed succeeded, want an error")
	}
	if _, err := g.cpu.Run(); err == nil {
		t.Fatal("second Run after the stub was killed succeeded, want an error")
	}
}

func TestCloseKillsAndReapsTheStub(t *testing.T) {
	g := newGuest(t, nil)
	pid := g.m.pid
	done := make(chan error)
	go func() { done <- g.m.Close() }() // Close may come from any goroutine
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(pid, 0); err != unix.ESRCH {
		t.Errorf("kill(stub, 0) after Close = %v, want ESRCH (killed and reaped)", err)
	}
	g.cpu.Kick() // harmless after Close
	if err := g.m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestStubHoldsOnlyMappedFiles(t *testing.T) {
	g := newGuest(t, nil)
	if pgid, err := unix.Getpgid(g.m.pid); err != nil || pgid != g.m.pid {
		t.Errorf("stub process group = %d, %v; want its own (%d)", pgid, err, g.m.pid)
	}
	if comm, err := readFile("/proc/" + itoa(g.m.pid) + "/comm"); err != nil || string(comm) != stubComm+"\n" {
		t.Errorf("stub comm = %q, %v; want %q", comm, err, stubComm)
	}
	ents, err := readDirNames("/proc/" + itoa(g.m.pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range ents {
		l, err := os.Readlink("/proc/" + itoa(g.m.pid) + "/fd/" + e)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, e+"->"+l)
	}
	if len(ents) != 2 || !strings.HasPrefix(targets[0], "0->socket:") || !strings.Contains(targets[1], "memfd:guest") {
		t.Errorf("stub has descriptors %v, want only the socket at 0 and the guest memfd", targets)
	}
	maps, err := readFile("/proc/" + itoa(g.m.pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	regions, err := parseMaps(maps)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		guestRange := r.end <= 1<<46
		stub := r.start >= stubBase && r.end <= stubBase+stubSize
		vsyscall := r.start >= 1<<63
		if !guestRange && !stub && !vsyscall {
			t.Errorf("stub still maps %#x-%#x (stack or vDSO not removed)", r.start, r.end)
		}
	}
}

func TestEveryRegisterWrittenAtAnExitReachesTheGuest(t *testing.T) {
	// A sigreturn rewrites all registers, RCX and R11 included, which the
	// host can only return with IRET rather than SYSRET.
	const save = dataAddr + 0x200
	var a asm
	a.movEAX(15).syscall()
	for n := 0; n < 16; n++ {
		a.storeReg(n, uint32(save+8*n))
	}
	a.raw(0x9c) // pushfq
	a.raw(0x58) // pop %rax
	a.storeReg(0, save+8*16)
	a.movEAX(60).syscall()
	g := newGuest(t, a.b)
	g.expectSyscall(15)

	r := g.cpu.Regs()
	want := make([]uint64, 16)
	for n := range want {
		want[n] = 0x1111_0000_0000_0000 + uint64(n)*0x0101_0101
	}
	want[4] = stackTop - 0x100 // RSP must stay usable for pushfq
	r.RAX, r.RCX, r.RDX, r.RBX, r.RSP, r.RBP, r.RSI, r.RDI = want[0], want[1], want[2], want[3], want[4], want[5], want[6], want[7]
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = want[8], want[9], want[10], want[11], want[12], want[13], want[14], want[15]
	r.RFLAGS = 0x202 | 1 | 1<<11 // CF and OF
	g.expectSyscall(60)
	for n := range want {
		if got := g.word(save + 8*uint64(n)); got != want[n] {
			t.Errorf("register %d = %#x in the guest, want %#x", n, got, want[n])
		}
	}
	if got := g.word(save + 8*16); got&(1|1<<11) != 1|1<<11 {
		t.Errorf("RFLAGS in the guest = %#x, want CF and OF set", got)
	}
}

func TestDescriptorsPassedOverTheSocketWork(t *testing.T) {
	// The fallback for files the stub cannot reopen through /proc.
	var a asm
	a.loadRAX(extraAddr).syscall()
	g := newGuest(t, a.b)
	g.m.noProcReopen = true
	other, err := unix.MemfdCreate("other", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	if _, err := unix.Pwrite(other, []byte{42}, 0); err != nil {
		t.Fatal(err)
	}
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, other, 0); err != nil {
		t.Fatalf("Map of a passed descriptor: %v", err)
	}
	g.expectSyscall(42)
	if g.m.sock < 0 {
		t.Error("socket closed after a successful pass")
	}
}

func TestStubDescriptorCacheIsBounded(t *testing.T) {
	g := newGuest(t, nil)
	for i := 0; i < maxStubFiles+5; i++ {
		fd, err := unix.MemfdCreate("f", unix.MFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Ftruncate(fd, pageSize); err != nil {
			t.Fatal(err)
		}
		if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, fd, 0); err != nil {
			t.Fatalf("Map #%d: %v", i, err)
		}
		unix.Close(fd)
	}
	ents, err := readDirNames("/proc/" + itoa(g.m.pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > maxStubFiles+1 {
		t.Errorf("stub holds %d descriptors, want at most %d files and the socket", len(ents), maxStubFiles)
	}
}

func TestAccessBeyondTheEndOfAFileIsAPresentPageFault(t *testing.T) {
	var a asm
	rip := a.at()
	a.loadRAX(extraAddr + pageSize)
	g := newGuest(t, a.b)
	small, err := unix.MemfdCreate("small", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(small)
	if err := unix.Ftruncate(small, pageSize); err != nil {
		t.Fatal(err)
	}
	// Two pages of a one-page file: the second has no backing (SIGBUS).
	if err := g.m.Map(extraAddr, 2*pageSize, hvf.ProtRead, small, 0); err != nil {
		t.Fatal(err)
	}
	ex := g.run()
	want := hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorPF,
		ErrorCode: hvf.PFPresent | hvf.PFUser, FaultAddr: extraAddr + pageSize}
	if ex != want {
		t.Errorf("exit = %+v, want %+v", ex, want)
	}
	if g.cpu.Regs().RIP != rip {
		t.Errorf("RIP = %#x, want %#x", g.cpu.Regs().RIP, rip)
	}
}

func TestKernelFSBaseIsRefusedWithAnError(t *testing.T) {
	g := newGuest(t, new(asm).movEAX(60).syscall().b)
	g.cpu.SetFSBase(0xffff_8000_0000_0000)
	if _, err := g.cpu.Run(); err == nil {
		t.Fatal("Run with a kernel-half FS base succeeded, want an error")
	}
	// The machine is still usable once the base is fixed.
	g.cpu.SetFSBase(0)
	g.expectSyscall(60)
}

func TestMisalignedAccessWithACSetIsAlignmentCheck(t *testing.T) {
	var a asm
	rip := a.at()
	a.loadRAX(dataAddr + 1)
	g := newGuest(t, a.b)
	g.cpu.Regs().RFLAGS |= 1 << 18 // AC
	ex := g.run()
	want := hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorAC}
	if ex != want {
		t.Errorf("exit = %+v, want %+v", ex, want)
	}
	if g.cpu.Regs().RIP != rip {
		t.Errorf("RIP = %#x, want %#x", g.cpu.Regs().RIP, rip)
	}
}

func TestTwoMachinesOnOneThreadAreIndependent(t *testing.T) {
	// exec builds the new image's machine before dropping the old one.
	var a, b asm
	a.movEAX(1).syscall().movEAX(2).syscall()
	b.movEAX(3).syscall().movEAX(4).syscall()
	g1 := newGuest(t, a.b)
	g2 := newGuest(t, b.b)
	g1.expectSyscall(1)
	g2.expectSyscall(3)
	g1.expectSyscall(2)
	if err := g1.m.Close(); err != nil {
		t.Fatal(err)
	}
	g2.expectSyscall(4)
}
