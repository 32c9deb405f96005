package hvf

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// newFakeVCPU builds a machine and vCPU over plain byte slices (no
// /dev/kvm): the system area, its page tables and a fake kvm_run page.
func newFakeVCPU(t *testing.T, mech exitMech) *kvmVCPU {
	t.Helper()
	m, _ := newFakeMachine(t)
	if mech != nil {
		m.b.mech.Store(&exitMechBox{mech})
	}
	area, err := m.allocCPUArea()
	if err != nil {
		t.Fatal(err)
	}
	return &kvmVCPU{m: m, fd: -1, run: make([]byte, runMinSize), area: area}
}

func (c *kvmVCPU) fakeExit(reason uint32, pa uint64, r kvmRegs) {
	binary.LittleEndian.PutUint32(c.run[runExitReason:], reason)
	binary.LittleEndian.PutUint64(c.run[runMMIOPhysAddr:], pa)
	binary.LittleEndian.PutUint32(c.run[runMMIOLen:], 1)
	c.run[runMMIOIsWrite] = 1
	c.putRawRegs(&r)
}

func (c *kvmVCPU) stackWords(at uint64, n int) []uint64 {
	out := make([]uint64, n)
	at -= c.area.va
	page := c.m.sysPage(at &^ (pageSize - 1))
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(page[at%pageSize+uint64(i)*8:])
	}
	return out
}

func TestSystemAreaMappings(t *testing.T) {
	c := newFakeVCPU(t, nil)
	m := c.m
	tests := []struct {
		name              string
		pa                uint64
		user, write, exec bool
		present           bool
	}{
		{"ring-0 stubs", sysCodeOff, false, false, true, true},
		{"syscall trampoline", sysTrampOff, true, false, true, true},
		{"IDT", sysIDTOff, false, false, false, true},
		{"syscall MMIO page", m.mmioSys, true, true, false, true},
		{"exception MMIO page", m.mmioExc, false, true, false, true},
		{"GDT/TSS page", c.area.gdt, false, true, false, true},
		{"ring-0 stack", c.area.stack, false, true, false, true},
		{"IST stack", c.area.ist, false, true, false, true},
		{"page-table root is not mapped", m.pt.root, false, false, false, false},
	}
	for _, tc := range tests {
		va := m.sysVA(tc.pa)
		if va < m.limit {
			t.Errorf("%s: virtual %#x below AddrLimit", tc.name, va)
		}
		tr, ok := m.pt.walk(va)
		if ok != tc.present {
			t.Errorf("%s: present=%v", tc.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if tr.pa != tc.pa || tr.user != tc.user || tr.write != tc.write || tr.exec != tc.exec {
			t.Errorf("%s: %+v", tc.name, tr)
		}
	}
	if _, ok := m.pt.walk(0x400000); ok {
		t.Error("user space is not empty")
	}
	if c.area.rsp0Top() != m.sysVA(c.area.stack)+pageSize || c.area.tssVA() != m.sysVA(c.area.gdt)+cpuTSSOff {
		t.Errorf("cpu area addresses %+v", c.area)
	}
	// The MMIO pages must stay outside every slot the system area can grow.
	for _, pa := range []uint64{m.mmioSys, m.mmioExc} {
		if pa < mmioPA || pa >= sysSpan {
			t.Errorf("MMIO GPA %#x not in the unslotted tail of the system span", pa)
		}
	}
	m.sysCommitted = mmioPA - sysSlotSize
	m.setSlot = func(r *kvmUserspaceMemoryRegion) error {
		if r.GuestPhysAddr+r.MemorySize > mmioPA {
			t.Errorf("system slot %+v covers the MMIO pages", r)
		}
		return nil
	}
	if err := m.growSystem(); err != nil {
		t.Fatal(err)
	}
	if err := m.growSystem(); err == nil {
		t.Error("system area grew over the MMIO pages")
	}
}

func TestSyscallExitInRing3ResumesThroughSyncRegs(t *testing.T) {
	c := newFakeVCPU(t, ring3MMIO{})
	c.fakeExit(kvmExitMMIO, c.m.mmioSys, kvmRegs{
		RAX: 39, RDI: 0x1111, RCX: 0x40000c, R11: 0x246, RSP: 0x7ffff000,
		RIP: c.m.sysVA(sysTrampOff + 9), RFLAGS: 0x2,
	})
	exit, err := c.decodeExit()
	if err != nil {
		t.Fatal(err)
	}
	if exit.Reason != ExitSyscall {
		t.Fatalf("exit %+v", exit)
	}
	r := c.Regs()
	if r.RIP != 0x40000c || r.RFLAGS != 0x246 || r.RAX != 39 || r.RDI != 0x1111 || r.RSP != 0x7ffff000 || r.RCX != 0x40000c || r.R11 != 0x246 {
		t.Errorf("regs %+v", *r)
	}
	if c.ring0 {
		t.Error("ring-3 mechanism parked in ring 0")
	}
	r.RAX = 0x4242
	c.load()
	raw := c.rawRegs()
	if raw.RIP != 0x40000c || raw.RAX != 0x4242 || raw.RSP != 0x7ffff000 || raw.RFLAGS != 0x246 {
		t.Errorf("loaded %+v", raw)
	}
	if d := binary.LittleEndian.Uint64(c.run[runDirtyRegs:]); d != kvmSyncX86Regs {
		t.Errorf("dirty bits %#x", d)
	}
}

func TestSyscallExitInRing0ResumesThroughIretFrame(t *testing.T) {
	c := newFakeVCPU(t, ring0MMIO{})
	c.fakeExit(kvmExitMMIO, c.m.mmioSys, kvmRegs{
		RAX: 1, RCX: 0x401000, R11: 0x202, RSP: 0x7ffff000, RIP: c.m.sysVA(sysTrampOff + 9), RFLAGS: 0x2,
	})
	if exit, err := c.decodeExit(); err != nil || exit.Reason != ExitSyscall {
		t.Fatalf("exit %+v, %v", exit, err)
	}
	if !c.ring0 {
		t.Fatal("ring-0 mechanism not parked in ring 0")
	}
	r := c.Regs()
	r.RIP, r.RSP, r.RCX, r.R11, r.RFLAGS = 0x402000, 0x7fffe000, 5, 6, 0x3246 // IOPL must not survive
	c.load()
	raw := c.rawRegs()
	top := c.area.rsp0Top()
	if raw.RIP != c.m.sysVA(sysCodeOff+codeIretq) || raw.RSP != top-40 || raw.RFLAGS != rflagsFixed {
		t.Errorf("raw %+v", raw)
	}
	if raw.RCX != 5 || raw.R11 != 6 {
		t.Errorf("rcx/r11 not preserved: %+v", raw)
	}
	want := []uint64{0x402000, selUserCS, 0x246, 0x7fffe000, selUserDS}
	got := c.stackWords(top-40, 5)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("iret frame %#x, want %#x", got, want)
			break
		}
	}
}

func TestExceptionExitReadsFrame(t *testing.T) {
	tests := []struct {
		name  string
		frame [frameWords]uint64
		want  Exit
	}{
		{"page fault", [frameWords]uint64{14, 0xdead000, 0x6, 0x401000, 0x33, 0x10246, 0x7fffe000, 0x2b},
			Exit{Reason: ExitException, Vector: 14, ErrorCode: 6, FaultAddr: 0xdead000}},
		{"breakpoint", [frameWords]uint64{3, 0, 0, 0x401001, 0x33, 0x246, 0x7fffe000, 0x2b},
			Exit{Reason: ExitException, Vector: 3}},
		{"general protection", [frameWords]uint64{13, 0, 0x402, 0x401000, 0x33, 0x246, 0x7fffe000, 0x2b},
			Exit{Reason: ExitException, Vector: 13, ErrorCode: 0x402}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeVCPU(t, ring3MMIO{})
			at := c.area.rsp0Top() - frameWords*8
			c.putStack(at, tc.frame[:]...)
			c.fakeExit(kvmExitMMIO, c.m.mmioExc, kvmRegs{RAX: 7, RBX: 8, RSP: at, RIP: c.m.sysVA(0x20)})
			exit, err := c.decodeExit()
			if err != nil {
				t.Fatal(err)
			}
			if exit != tc.want {
				t.Errorf("exit %+v, want %+v", exit, tc.want)
			}
			r := c.Regs()
			if r.RIP != tc.frame[frameRIP] || r.RSP != tc.frame[frameRSP] || r.RFLAGS != tc.frame[frameRFLAGS] || r.RAX != 7 || r.RBX != 8 {
				t.Errorf("regs %+v", *r)
			}
			if !c.ring0 {
				t.Error("exception must resume through iretq")
			}
			r.RIP += 2
			c.load()
			if got := c.stackWords(c.area.rsp0Top()-40, 1)[0]; got != tc.frame[frameRIP]+2 {
				t.Errorf("resume rip %#x", got)
			}
		})
	}
}

func TestUnhandledExitsAreErrorsWithRegisters(t *testing.T) {
	c0 := newFakeVCPU(t, ring3MMIO{})
	tests := []struct {
		name   string
		setup  func(c *kvmVCPU)
		wantIn []string
	}{
		{"shutdown", func(c *kvmVCPU) {
			c.fakeExit(kvmExitShutdown, 0, kvmRegs{RIP: 0x401234})
		}, []string{"KVM_EXIT_SHUTDOWN", "rip=0x401234"}},
		{"internal error", func(c *kvmVCPU) {
			c.fakeExit(kvmExitInternalError, 0, kvmRegs{RIP: 0x1})
			binary.LittleEndian.PutUint32(c.run[runInternalSub:], 1)
			binary.LittleEndian.PutUint32(c.run[runInternalNData:], 1)
			binary.LittleEndian.PutUint64(c.run[runInternalData:], 0xabc)
		}, []string{"KVM_EXIT_INTERNAL_ERROR", "suberror 1", "0xabc"}},
		{"fail entry", func(c *kvmVCPU) {
			c.fakeExit(kvmExitFailEntry, 0x21, kvmRegs{})
		}, []string{"KVM_EXIT_FAIL_ENTRY", "0x21"}},
		{"stray MMIO", func(c *kvmVCPU) {
			c.fakeExit(kvmExitMMIO, 0xfee00000, kvmRegs{})
		}, []string{"0xfee00000"}},
		{"MMIO read of the syscall page", func(c *kvmVCPU) {
			c.fakeExit(kvmExitMMIO, c.m.mmioSys, kvmRegs{})
			c.run[runMMIOIsWrite] = 0
		}, []string{"read", fmt.Sprintf("%#x", c0.m.mmioSys)}},
		{"exception in ring 0", func(c *kvmVCPU) {
			at := c.area.rsp0Top() - frameWords*8
			c.putStack(at, 13, 0, 0, 0x400000000400, 0x10, 0x2, at+64, 0x18)
			c.fakeExit(kvmExitMMIO, c.m.mmioExc, kvmRegs{RSP: at})
		}, []string{"ring 0", "0x400000000400"}},
		{"exception frame off the stacks", func(c *kvmVCPU) {
			c.fakeExit(kvmExitMMIO, c.m.mmioExc, kvmRegs{RSP: 0x7fff0000})
		}, []string{"rsp 0x7fff0000"}},
	}
	for _, tc := range tests {
		c := newFakeVCPU(t, ring3MMIO{})
		tc.setup(c)
		_, err := c.decodeExit()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, s := range tc.wantIn {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, s)
			}
		}
	}
}

func TestInterruptedRunKeepsOrRecoversUserState(t *testing.T) {
	tests := []struct {
		name      string
		ring0     bool
		rawRIP    func(m *kvmMachine) uint64
		wantDone  bool
		wantRIP   uint64
		wantRing0 bool
	}{
		{"in user code", false, func(*kvmMachine) uint64 { return 0x401000 }, true, 0x401000, false},
		{"after iretq reached user code", true, func(*kvmMachine) uint64 { return 0x401000 }, true, 0x401000, false},
		{"before the pending iretq", true, func(m *kvmMachine) uint64 { return m.sysVA(sysCodeOff + codeIretq) }, true, 0x500000, true},
		{"inside an exception stub", false, func(m *kvmMachine) uint64 { return m.sysVA(14*stubSize + 4) }, false, 0, false},
		{"at the trampoline", false, func(m *kvmMachine) uint64 { return m.sysVA(sysTrampOff) }, false, 0, false},
	}
	for _, tc := range tests {
		c := newFakeVCPU(t, ring3MMIO{})
		c.ring0 = tc.ring0
		c.regs.RIP = 0x500000
		c.kicked.Store(true)
		c.putRawRegs(&kvmRegs{RIP: tc.rawRIP(c.m), RAX: 9})
		exit, done := c.interrupted()
		if done != tc.wantDone {
			t.Errorf("%s: done=%v", tc.name, done)
			continue
		}
		if !done {
			if !c.kicked.Load() {
				t.Errorf("%s: a pending kick was lost", tc.name)
			}
			continue
		}
		if exit.Reason != ExitInterrupted || c.regs.RIP != tc.wantRIP || c.ring0 != tc.wantRing0 {
			t.Errorf("%s: exit %+v rip %#x ring0 %v", tc.name, exit, c.regs.RIP, c.ring0)
		}
		if c.kicked.Load() {
			t.Errorf("%s: kick still pending after being reported", tc.name)
		}
	}
}

func TestRunReportsKickAndBadRIPWithoutEnteringTheGuest(t *testing.T) {
	c := newFakeVCPU(t, ring3MMIO{})
	c.Kick()
	if c.run[runImmediateExit] != 1 {
		t.Error("Kick did not set immediate_exit")
	}
	exit, err := c.Run()
	if err != nil || exit.Reason != ExitInterrupted {
		t.Fatalf("after Kick: %+v, %v", exit, err)
	}
	if c.run[runImmediateExit] != 0 {
		t.Error("immediate_exit left set")
	}
	c.regs.RIP = 0x8000_0000_0000
	exit, err = c.Run()
	if err != nil || exit.Reason != ExitException || exit.Vector != VectorGP {
		t.Fatalf("non-canonical rip: %+v, %v", exit, err)
	}
}

func TestRunLoopHandlesInterruptsInsideStubs(t *testing.T) {
	c := newFakeVCPU(t, ring3MMIO{})
	tramp := c.m.sysVA(sysTrampOff)
	c.regs.RIP, c.regs.RSP = 0x401000, 0x7fff0000
	// Script: a kick lands while the CPU is at the trampoline (SYSCALL
	// done, exit store not yet); the loop must re-enter, deliver the
	// syscall, and report the kick on the next Run.
	step := 0
	c.fakeRun = func() unix.Errno {
		step++
		switch step {
		case 1:
			if d := binary.LittleEndian.Uint64(c.run[runDirtyRegs:]); d != kvmSyncX86Regs {
				t.Errorf("first entry without dirty regs")
			}
			c.Kick()
			c.putRawRegs(&kvmRegs{RIP: tramp, RCX: 0x401002, R11: 0x246, RAX: 39, RSP: 0x7fff0000})
			return unix.EINTR
		case 2:
			if c.run[runImmediateExit] != 0 {
				t.Errorf("re-entered with immediate_exit set")
			}
			c.fakeExit(kvmExitMMIO, c.m.mmioSys, kvmRegs{RIP: tramp + 9, RCX: 0x401002, R11: 0x246, RAX: 39, RSP: 0x7fff0000})
			return 0
		}
		t.Fatalf("unexpected KVM_RUN %d", step)
		return 0
	}
	exit, err := c.Run()
	if err != nil || exit.Reason != ExitSyscall || c.regs.RIP != 0x401002 || c.regs.RAX != 39 {
		t.Fatalf("first Run: %+v, %v, regs %+v", exit, err, c.regs)
	}
	exit, err = c.Run()
	if err != nil || exit.Reason != ExitInterrupted {
		t.Fatalf("second Run: %+v, %v (the kick was lost)", exit, err)
	}
	if step != 2 {
		t.Errorf("second Run entered the guest")
	}
}

func TestRunLoopTreatsExitIntrAsInterrupt(t *testing.T) {
	c := newFakeVCPU(t, ring3MMIO{})
	c.regs.RIP = 0x401000
	c.fakeRun = func() unix.Errno {
		c.fakeExit(kvmExitIntr, 0, kvmRegs{RIP: 0x401234})
		return 0
	}
	exit, err := c.Run()
	if err != nil || exit.Reason != ExitInterrupted || c.regs.RIP != 0x401234 {
		t.Fatalf("%+v, %v, rip %#x", exit, err, c.regs.RIP)
	}
}

func TestRunLoopReportsHostErrors(t *testing.T) {
	c := newFakeVCPU(t, ring3MMIO{})
	c.regs.RIP = 0x401000
	c.fakeRun = func() unix.Errno {
		c.fakeExit(kvmExitMemoryFault, 0, kvmRegs{RIP: 0x401000})
		binary.LittleEndian.PutUint64(c.run[runExitUnion+8:], 0x40005000)
		return unix.EFAULT
	}
	_, err := c.Run()
	if err == nil || !strings.Contains(err.Error(), "KVM_EXIT_MEMORY_FAULT") || !strings.Contains(err.Error(), "0x40005000") {
		t.Fatalf("error %v", err)
	}
}

func TestStoreToSyscallPageFromUserCodeResumesInRing3(t *testing.T) {
	c := newFakeVCPU(t, ring0MMIO{})
	c.fakeExit(kvmExitMMIO, c.m.mmioSys, kvmRegs{RAX: 1, RCX: 0x401000, R11: 0x202, RIP: 0x400800})
	if exit, err := c.decodeExit(); err != nil || exit.Reason != ExitSyscall {
		t.Fatalf("%+v, %v", exit, err)
	}
	if c.ring0 {
		t.Error("a ring-3 store was taken for a ring-0 trampoline exit")
	}
	// The probe is not consulted (or taught) by such stores.
	c = newFakeVCPU(t, nil)
	c.fakeExit(kvmExitMMIO, c.m.mmioSys, kvmRegs{RIP: 0x400800})
	if _, err := c.decodeExit(); err != nil {
		t.Fatal(err)
	}
	if c.m.b.mech.Load() != nil {
		t.Error("probe ran on a store from outside the trampoline")
	}
}

func TestClosedVCPUIsParkedAndItsHandleInert(t *testing.T) {
	c := newFakeVCPU(t, ring0MMIO{})
	m := c.m
	m.vcpus = append(m.vcpus, c)
	c.ring0 = true
	run := c.run
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(m.vcpus) != 0 || len(m.idle) != 1 {
		t.Fatalf("vcpus %d idle %d", len(m.vcpus), len(m.idle))
	}
	p := m.idle[0]
	if !p.ring0 || p.area != c.area || &p.run[0] != &run[0] {
		t.Errorf("parked %+v lost the vCPU's state", p)
	}
	run[runImmediateExit] = 0 // Close's own kick; reset clears it on reuse
	c.Kick()                  // must not touch the parked run page
	if run[runImmediateExit] != 0 {
		t.Error("Kick on a closed handle reached the parked vCPU")
	}
	if _, err := c.Run(); err == nil {
		t.Error("Run on a closed handle succeeded")
	}
	if _, err := c.FPState(); err == nil {
		t.Error("FPState on a closed handle succeeded")
	}
	if c.FSBase() != 0 {
		t.Error("FSBase on a closed handle")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestInitialFPStateIsTheResetState(t *testing.T) {
	var b [kvmXSaveSize]byte
	for i := range b {
		b[i] = 0xff
	}
	initialFPState(&b)
	le := binary.LittleEndian
	if le.Uint16(b[0:]) != 0x37f || le.Uint32(b[24:]) != 0x1f80 || le.Uint64(b[512:]) != 3 {
		t.Errorf("fcw %#x mxcsr %#x xstate_bv %#x", le.Uint16(b[0:]), le.Uint32(b[24:]), le.Uint64(b[512:]))
	}
	for i := 160; i < 416; i++ { // xmm0-15
		if b[i] != 0 {
			t.Fatalf("xmm byte %d = %#x", i, b[i])
		}
	}
}
