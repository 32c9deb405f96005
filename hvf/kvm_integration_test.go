package hvf

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Integration tests: real VMs running hand-assembled guests. They skip with
// the reason when /dev/kvm is absent or unusable (as on PVM-less dev boxes)
// and must pass wherever KVM works.

// requireKVM returns a KVM backend or skips the test with the reason.
func requireKVM(t testing.TB) Backend {
	t.Helper()
	b, err := NewKVM(hclog.NewNullLogger())
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			t.Skipf("no /dev/kvm: %v", err)
		}
		t.Fatal(err)
	}
	return b
}

// guestCode holds every test guest, assembled with GNU as and checked with
// objdump; offsets are into the page mapped at codeBase.
var guestCode = []byte{
	// g1 +0x00: two syscalls, the second passes the first's result.
	0xb8, 0x27, 0x00, 0x00, 0x00, //       mov    $39,%eax
	0xbf, 0x11, 0x11, 0x00, 0x00, //       mov    $0x1111,%edi
	0x0f, 0x05, //                         syscall                      ; +0x0a
	0x48, 0x89, 0xc7, //                   mov    %rax,%rdi             ; +0x0c
	0xb8, 0x3c, 0x00, 0x00, 0x00, //       mov    $60,%eax
	0x0f, 0x05, //                         syscall                      ; +0x14
	0x0f, 0x0b, //                         ud2                          ; +0x16
	// g2 +0x18: load from an unmapped page, then int3, then syscall.
	0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x10, // mov 0x10000000,%rax
	0xcc,                         //                               int3                         ; +0x20
	0xb8, 0x01, 0x00, 0x00, 0x00, //       mov    $1,%eax               ; +0x21
	0x0f, 0x05, //                         syscall                      ; +0x26
	// g3 +0x28: store to (%rbx), syscall, loop.
	0x48, 0xc7, 0x03, 0x01, 0x00, 0x00, 0x00, // movq $1,(%rbx)
	0xb8, 0x01, 0x00, 0x00, 0x00, //       mov    $1,%eax               ; +0x2f
	0x0f, 0x05, //                         syscall                      ; +0x34
	0xeb, 0xf0, //                         jmp    g3                    ; +0x36
	// g4 +0x38: spin.
	0xeb, 0xfe, //                         jmp    .
	// g5 +0x3a: read through %fs.
	0x64, 0x48, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00, // mov %fs:0x10,%rax
	0x0f, 0x05, //                         syscall                      ; +0x43
	// g6 +0x45: read %xmm0.
	0x66, 0x48, 0x0f, 0x7e, 0xc0, //       movq   %xmm0,%rax
	0x0f, 0x05, //                         syscall                      ; +0x4a
}

const (
	codeBase  = 0x400000
	stackBase = 0x7ff00000
	stackSize = 0x10000
	g1, g2    = codeBase + 0x00, codeBase + 0x18
	g3, g4    = codeBase + 0x28, codeBase + 0x38
	g5, g6    = codeBase + 0x3a, codeBase + 0x45
)

func memfdWith(t testing.TB, size int, content []byte) int {
	t.Helper()
	fd, err := unix.MemfdCreate("hvf-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		t.Fatal(err)
	}
	if len(content) > 0 {
		if _, err := unix.Pwrite(fd, content, 0); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

// newTestGuest builds a VM with guestCode at codeBase (R|X) and a stack,
// and a vCPU starting at entry. The calling goroutine is locked to its
// thread for the test.
func newTestGuest(t testing.TB, entry uint64) (Machine, VCPU) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	b := requireKVM(t)
	m, err := b.NewMachine(Config{AddrLimit: 1 << 46})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := m.Map(codeBase, pageSize, ProtRead|ProtExec, memfdWith(t, pageSize, guestCode), 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(stackBase, stackSize, ProtRead|ProtWrite, memfdWith(t, stackSize, nil), 0); err != nil {
		t.Fatal(err)
	}
	c, err := m.NewVCPU()
	if err != nil {
		t.Fatal(err)
	}
	r := c.Regs()
	r.RIP, r.RSP, r.RFLAGS = entry, stackBase+stackSize-0x100, 0x202
	return m, c
}

func mustRun(t *testing.T, c VCPU, want ExitReason) Exit {
	t.Helper()
	exit, err := c.Run()
	if err != nil {
		t.Fatal(err)
	}
	if exit.Reason != want {
		t.Fatalf("exit %+v (rip %#x), want reason %d", exit, c.Regs().RIP, want)
	}
	return exit
}

func TestKVMGuestSyscallsSeeReturnAddressAndResult(t *testing.T) {
	_, c := newTestGuest(t, g1)
	mustRun(t, c, ExitSyscall)
	r := c.Regs()
	if r.RAX != 39 || r.RDI != 0x1111 || r.RIP != g1+0x0c || r.RCX != g1+0x0c || r.RSP != stackBase+stackSize-0x100 {
		t.Fatalf("first syscall regs %+v", *r)
	}
	if r.RFLAGS&rflagsIF == 0 || r.R11 != r.RFLAGS {
		t.Errorf("rflags %#x r11 %#x", r.RFLAGS, r.R11)
	}
	r.RAX = 0x4242
	mustRun(t, c, ExitSyscall)
	if r.RAX != 60 || r.RDI != 0x4242 || r.RIP != g1+0x16 {
		t.Fatalf("second syscall regs %+v", *r)
	}
}

func TestKVMGuestPageFaultBreakpointAndRedirect(t *testing.T) {
	m, c := newTestGuest(t, g2)
	exit := mustRun(t, c, ExitException)
	if exit.Vector != VectorPF || exit.FaultAddr != 0x10000000 || exit.ErrorCode&(PFUser|PFPresent|PFWrite) != PFUser {
		t.Fatalf("exit %+v", exit)
	}
	if c.Regs().RIP != g2 {
		t.Fatalf("#PF rip %#x, want %#x", c.Regs().RIP, g2)
	}
	data := make([]byte, pageSize)
	binary.LittleEndian.PutUint64(data, 0xfeedface)
	if err := m.Map(0x10000000, pageSize, ProtRead, memfdWith(t, pageSize, data), 0); err != nil {
		t.Fatal(err)
	}
	exit = mustRun(t, c, ExitException)
	if exit.Vector != VectorBP || c.Regs().RIP != g2+0x9 || c.Regs().RAX != 0xfeedface {
		t.Fatalf("int3: exit %+v regs %+v", exit, *c.Regs())
	}
	// Redirect the return like signal delivery would: new rip, rsp, args.
	r := c.Regs()
	r.RIP, r.RSP, r.RDI = g1, stackBase+0x800, 0xabcdef
	mustRun(t, c, ExitSyscall)
	if r.RAX != 39 || r.RIP != g1+0x0c || r.RSP != stackBase+0x800 {
		t.Fatalf("after redirect %+v", *r)
	}
}

func TestKVMGuestProtectAndUnmapTakeEffectOnPresentPages(t *testing.T) {
	m, c := newTestGuest(t, g3)
	const data = 0x40000000 // 2 MiB aligned: a large page until split
	if err := m.Map(data, size2M, ProtRead|ProtWrite, memfdWith(t, size2M, nil), 0); err != nil {
		t.Fatal(err)
	}
	target := uint64(data + 0x5000)
	c.Regs().RBX = target
	mustRun(t, c, ExitSyscall) // the store went through: the TLB/shadow now has the page

	steps := []struct {
		name    string
		change  func() error
		rbx     uint64
		fault   bool
		wantErr uint64
	}{
		{"read-only page faults on write", func() error { return m.Protect(target, pageSize, ProtRead) }, target, true, PFPresent | PFWrite | PFUser},
		{"neighbour in the same 2M stays writable", nil, target + pageSize, false, 0},
		{"write allowed again", func() error { return m.Protect(target, pageSize, ProtRead|ProtWrite) }, target, false, 0},
		{"unmapped page faults not-present", func() error { return m.Unmap(target, pageSize) }, target, true, PFWrite | PFUser},
	}
	for _, s := range steps {
		if s.change != nil {
			if err := s.change(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		r := c.Regs()
		r.RIP, r.RBX = g3, s.rbx
		exit, err := c.Run()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !s.fault {
			if exit.Reason != ExitSyscall {
				t.Errorf("%s: exit %+v", s.name, exit)
			}
			continue
		}
		if exit.Reason != ExitException || exit.Vector != VectorPF || exit.FaultAddr != s.rbx ||
			exit.ErrorCode&(PFPresent|PFWrite|PFUser) != s.wantErr || c.Regs().RIP != g3 {
			t.Errorf("%s: exit %+v rip %#x", s.name, exit, c.Regs().RIP)
		}
	}
}

func TestKVMGuestKickInterruptsASpinningGuest(t *testing.T) {
	_, c := newTestGuest(t, g4)
	kicked := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Kick()
		close(kicked)
	}()
	for done := false; !done; {
		// Spurious SIGURGs from the Go runtime also interrupt a run; keep
		// going until the kick has happened.
		mustRun(t, c, ExitInterrupted)
		if c.Regs().RIP != g4 {
			t.Fatalf("interrupted spin loop at rip %#x", c.Regs().RIP)
		}
		select {
		case <-kicked:
			done = true
		default:
		}
	}
	r := c.Regs()
	r.RIP = g1
	mustRun(t, c, ExitSyscall)
	if r.RAX != 39 {
		t.Fatalf("after redirect %+v", *r)
	}
}

func TestKVMGuestFSBaseAndFPState(t *testing.T) {
	m, c := newTestGuest(t, g5)
	const tls = 0x20000000
	data := make([]byte, pageSize)
	binary.LittleEndian.PutUint64(data[0x10:], 0x1122334455667788)
	if err := m.Map(tls, pageSize, ProtRead|ProtWrite, memfdWith(t, pageSize, data), 0); err != nil {
		t.Fatal(err)
	}
	c.SetFSBase(tls)
	if got := c.FSBase(); got != tls {
		t.Fatalf("FSBase %#x", got)
	}
	mustRun(t, c, ExitSyscall)
	if c.Regs().RAX != 0x1122334455667788 {
		t.Fatalf("%%fs:0x10 read %#x", c.Regs().RAX)
	}

	fp, err := c.FPState()
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) < 512 || binary.LittleEndian.Uint32(fp[24:]) != 0x1f80 {
		t.Fatalf("FP state %d bytes, mxcsr %#x", len(fp), binary.LittleEndian.Uint32(fp[24:]))
	}
	binary.LittleEndian.PutUint64(fp[160:], 0xcafef00d) // xmm0 low quadword
	if len(fp) >= 520 {
		fp[512] |= 2 // XSTATE_BV.SSE: otherwise XRSTOR puts SSE state in its init value
	}
	if err := c.SetFPState(fp); err != nil {
		t.Fatal(err)
	}
	c.Regs().RIP = g6
	mustRun(t, c, ExitSyscall)
	if c.Regs().RAX != 0xcafef00d {
		t.Fatalf("xmm0 read back %#x", c.Regs().RAX)
	}
}

func TestKVMTwoVCPUsRunConcurrently(t *testing.T) {
	m, c0 := newTestGuest(t, g1)
	errs := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c1, err := m.NewVCPU()
		if err != nil {
			errs <- err
			return
		}
		r := c1.Regs()
		r.RIP, r.RSP, r.RFLAGS = g1, stackBase+0x1000, 0x202
		exit, err := c1.Run()
		if err == nil && (exit.Reason != ExitSyscall || r.RAX != 39 || r.RSP != stackBase+0x1000) {
			err = errors.New("second vCPU: wrong first exit")
		}
		errs <- err
	}()
	mustRun(t, c0, ExitSyscall)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func TestKVMMachineRejectsBadRanges(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := requireKVM(t)
	m, err := b.NewMachine(Config{AddrLimit: 1 << 46})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fd := memfdWith(t, pageSize, nil)
	tests := []struct {
		name string
		err  error
	}{
		{"unaligned", m.Map(0x400001, pageSize, ProtRead, fd, 0)},
		{"beyond AddrLimit", m.Map(1<<46, pageSize, ProtRead, fd, 0)},
		{"protect unmapped", m.Protect(0x400000, pageSize, ProtRead)},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestKVMClosedVCPUComesBackClean(t *testing.T) {
	m, c := newTestGuest(t, g1)
	mustRun(t, c, ExitSyscall) // parked after a syscall (ring 0 on VMX/SVM)
	c.SetFSBase(0x1234000)
	fp, err := c.FPState()
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(fp[160:], 0xdeadbeef)
	fp[512] |= 2
	if err := c.SetFPState(fp); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := m.NewVCPU()
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.FSBase(); got != 0 {
		t.Errorf("reused vCPU inherited FS base %#x", got)
	}
	r := c2.Regs()
	if r.RIP != 0 || r.RAX != 0 || r.RFLAGS != 0x202 {
		t.Errorf("reused vCPU regs %+v", *r)
	}
	r.RIP, r.RSP = g6, stackBase+0x2000
	mustRun(t, c2, ExitSyscall)
	if r.RAX != 0 {
		t.Errorf("reused vCPU inherited xmm0 %#x", r.RAX)
	}
}

// BenchmarkSyscallRoundTrip is the KVM backend's bare exit: a guest looping
// on a store and a syscall, each exit answered by the benchmark itself
// with no kernel at all (bench/run.sh reports it next to the ptrace
// backend's benchmark of the same name).
func BenchmarkSyscallRoundTrip(b *testing.B) {
	m, c := newTestGuest(b, g3)
	const data = 0x50000000
	if err := m.Map(data, pageSize, ProtRead|ProtWrite, memfdWith(b, pageSize, nil), 0); err != nil {
		b.Fatal(err)
	}
	c.Regs().RBX = data
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exit, err := c.Run()
		for err == nil && exit.Reason == ExitInterrupted {
			exit, err = c.Run() // a host signal's kick: not an exit of the guest's
		}
		if err != nil || exit.Reason != ExitSyscall {
			b.Fatalf("exit %+v, %v", exit, err)
		}
	}
}
