package hvf

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// kvmVCPU is one KVM vCPU.
//
// Registers live in regs (the kernel's view, always the ring-3 user state)
// and reach KVM only through the sync-regs area of kvm_run: load copies all
// of regs into s.regs and sets the dirty bit right before KVM_RUN; after an
// exit, s.regs is decoded back. No other ioctl is issued per exit.
//
// ring0 records that the CPU is parked in ring 0 (an exception stub, or the
// trampoline on VMX/SVM); the next Run then resumes through the shared
// iretq with a frame built from regs on this vCPU's ring-0 stack.
type kvmVCPU struct {
	m    *kvmMachine
	id   int
	fd   int
	run  []byte
	area cpuArea

	regs  Regs
	ring0 bool

	kicked atomic.Bool
	tid    atomic.Int32

	runMu  sync.Mutex   // held for the whole of Run; Close waits on it
	lifeMu sync.RWMutex // guards run/fd against Close while Kick uses them
	closed bool

	xsave [kvmXSaveSize]byte

	// fakeRun, when set by a unit test, stands in for the KVM_RUN ioctl.
	fakeRun func() unix.Errno
}

// cpuArea is a vCPU's private system pages: GDT+TSS, the IST1 stack and
// the ring-0 stack, by physical address, plus the system area's virtual
// base (virtual = va + physical).
type cpuArea struct {
	gdt, ist, stack uint64
	va              uint64
}

const cpuTSSOff = 0x100 // TSS offset inside the GDT page

// Guest virtual addresses of the vCPU's structures.
func (a cpuArea) gdtVA() uint64   { return a.va + a.gdt }
func (a cpuArea) tssVA() uint64   { return a.va + a.gdt + cpuTSSOff }
func (a cpuArea) rsp0Top() uint64 { return a.va + a.stack + pageSize }
func (a cpuArea) istTop() uint64  { return a.va + a.ist + pageSize }

// NewVCPU implements Machine.NewVCPU. Order per KVM-NOTES §1: CREATE_VCPU,
// SET_CPUID2, then SREGS, XCRS and MSRS; registers go in with the first
// KVM_RUN through sync regs.
func (m *kvmMachine) NewVCPU() (VCPU, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	if c := m.reuseVCPU(); c != nil {
		m.vcpus = append(m.vcpus, c)
		return c, nil
	}
	area, err := m.allocCPUArea()
	if err != nil {
		return nil, err
	}
	// KVM never frees a vCPU id before the VM dies, so ids only grow.
	id := m.nextVCPU
	m.nextVCPU++
	fd, err := kvmIoctl(m.vmfd, kvmCreateVCPU, uintptr(id))
	if err != nil {
		m.freeCPUArea(area)
		return nil, fmt.Errorf("kvm: KVM_CREATE_VCPU %d: %w", id, err)
	}
	c := &kvmVCPU{m: m, id: id, fd: fd, area: area}
	if err := c.setup(); err != nil {
		unix.Close(fd)
		if c.run != nil {
			unix.Munmap(c.run)
		}
		m.freeCPUArea(area)
		return nil, fmt.Errorf("kvm: vcpu %d: %w", id, err)
	}
	m.vcpus = append(m.vcpus, c)
	return c, nil
}

// allocCPUArea returns a vCPU's pages with GDT/TSS written and mapped
// (supervisor, read-write, no-exec). Preconditions: m.mu held.
func (m *kvmMachine) allocCPUArea() (cpuArea, error) {
	a := cpuArea{va: m.sysBase}
	var err error
	var inv spans
	for _, p := range []*uint64{&a.gdt, &a.ist, &a.stack} {
		if *p, err = m.allocPage(); err == nil {
			va := m.sysVA(*p)
			err = m.pt.set(va, va+pageSize, *p, ptePresent|pteWrite|pteNX, &inv)
		}
		if err != nil {
			m.freeCPUArea(a)
			return cpuArea{}, err
		}
	}
	page := m.sysPage(a.gdt)
	buildGDT(page, a.tssVA())
	buildTSS(page[cpuTSSOff:], a.rsp0Top(), a.istTop())
	return a, nil
}

// freeCPUArea unmaps and frees a vCPU's pages. Preconditions: m.mu held.
func (m *kvmMachine) freeCPUArea(a cpuArea) {
	var inv spans
	for _, p := range []uint64{a.gdt, a.ist, a.stack} {
		if p == 0 {
			continue
		}
		va := m.sysVA(p)
		m.pt.set(va, va+pageSize, 0, 0, &inv) // cannot fail: clearing allocates nothing
		m.freePage(p)
	}
}

func (c *kvmVCPU) setup() error {
	b := c.m.b
	run, err := unix.Mmap(c.fd, 0, b.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap kvm_run: %w", err)
	}
	c.run = run
	if err := kvmSetCPUID2Ioctl(c.fd, b.cpuid); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}
	var s kvmSregs
	if err := kvmGetSregsIoctl(c.fd, &s); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	c.initialSregs(&s)
	if err := kvmSetSregsIoctl(c.fd, &s); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	if b.info.xsave && b.xcrs {
		x := kvmXCRs{NrXCRs: 1}
		x.XCRs[0] = kvmXCR{XCR: 0, Value: b.info.xcr0}
		if err := kvmSetXCRsIoctl(c.fd, &x); err != nil {
			if !b.merged {
				return fmt.Errorf("KVM_SET_XCRS xcr0=%#x: %w", b.info.xcr0, err)
			}
			// PVM runs ring 3 with the host's XCR0 whatever is set here
			// (KVM-NOTES §5); only FPState loses the extended state.
			c.m.log.Warn("KVM_SET_XCRS refused the host's XCR0; FP state limited to x87/SSE",
				"xcr0", fmt.Sprintf("%#x", b.info.xcr0), "error", err)
		}
	}
	lstar := c.m.sysVA(sysTrampOff + trampSyscall)
	if err := c.setMSRs(
		kvmMSREntry{Index: msrSTAR, Data: starMSR},
		kvmMSREntry{Index: msrLSTAR, Data: lstar},
		kvmMSREntry{Index: msrCSTAR, Data: lstar},
		kvmMSREntry{Index: msrSFMASK, Data: sfmaskMSR},
		kvmMSREntry{Index: msrFSBase},
		kvmMSREntry{Index: msrGSBase},
		kvmMSREntry{Index: msrKernelGSBase},
	); err != nil {
		return err
	}
	// Guest TSC = host TSC, so a vDSO-style clock can use host calibration.
	// PVM's RDTSC is native anyway; older kernels lack the attribute.
	if err := kvmSetTSCOffsetIoctl(c.fd, 0); err != nil {
		c.m.log.Debug("guest TSC offset not settable", "error", err)
	}
	binary.LittleEndian.PutUint64(c.run[runValidRegs:], kvmSyncX86Regs)
	c.regs.RFLAGS = rflagsIF | rflagsFixed
	return nil
}

// initialSregs fills s for 64-bit ring 3 (KVM-NOTES §1), keeping KVM's
// apic_base and interrupt bitmap.
func (c *kvmVCPU) initialSregs(s *kvmSregs) {
	s.CS = userCodeSegment()
	s.SS = userDataSegment(selUserDS)
	s.DS = userDataSegment(0)
	s.ES = userDataSegment(0)
	s.FS = userDataSegment(0)
	s.GS = userDataSegment(0)
	s.TR = tssSegment(c.area.tssVA())
	s.LDT = unusableLDT()
	s.GDT = kvmDtable{Base: c.area.gdtVA(), Limit: gdtLimit}
	s.IDT = kvmDtable{Base: c.m.sysVA(sysIDTOff), Limit: 256*16 - 1}
	s.CR0 = guestCR0
	s.CR3 = c.m.pt.root
	s.CR4 = guestCR4(c.m.b.info.xsave, c.m.b.info.fsgsbase)
	s.EFER = guestEFER
}

func (c *kvmVCPU) setMSRs(es ...kvmMSREntry) error {
	var ms kvmMSRs
	ms.NMSRs = uint32(copy(ms.Entries[:], es))
	if err := kvmMSRIoctl(c.fd, kvmSetMSRs, &ms); err != nil {
		return fmt.Errorf("KVM_SET_MSRS: %w", err)
	}
	return nil
}

func (c *kvmVCPU) getMSR(index uint32) (uint64, error) {
	ms := kvmMSRs{NMSRs: 1}
	ms.Entries[0].Index = index
	if err := kvmMSRIoctl(c.fd, kvmGetMSRs, &ms); err != nil {
		return 0, fmt.Errorf("KVM_GET_MSRS %#x: %w", index, err)
	}
	return ms.Entries[0].Data, nil
}

// isClosed reports whether Close ran; the handle's descriptor now belongs
// to the pool.
func (c *kvmVCPU) isClosed() bool {
	c.lifeMu.RLock()
	defer c.lifeMu.RUnlock()
	return c.closed
}

// Regs implements VCPU.Regs.
func (c *kvmVCPU) Regs() *Regs { return &c.regs }

// Kick implements VCPU.Kick: immediate_exit covers the window outside
// KVM_RUN, SIGURG (which the Go runtime tolerates and never needs a
// handler for) interrupts a KVM_RUN in progress on the vCPU's thread.
func (c *kvmVCPU) Kick() {
	c.kicked.Store(true)
	c.lifeMu.RLock()
	defer c.lifeMu.RUnlock()
	if c.closed {
		return
	}
	setImmediateExit(c.run, true)
	if tid := c.tid.Load(); tid != 0 {
		unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
}

func (c *kvmVCPU) msrOrLog(index uint32) uint64 {
	if c.isClosed() {
		return 0
	}
	v, err := c.getMSR(index)
	if err != nil {
		c.m.log.Error("read MSR", "vcpu", c.id, "msr", fmt.Sprintf("%#x", index), "error", err)
	}
	return v
}

func (c *kvmVCPU) setMSROrLog(index uint32, v uint64) {
	if c.isClosed() {
		return
	}
	if err := c.setMSRs(kvmMSREntry{Index: index, Data: v}); err != nil {
		c.m.log.Error("write MSR", "vcpu", c.id, "msr", fmt.Sprintf("%#x", index), "error", err)
	}
}

// FSBase implements VCPU.FSBase (KVM_GET_MSRS: rare, arch_prctl and dumps).
func (c *kvmVCPU) FSBase() uint64 { return c.msrOrLog(msrFSBase) }

// SetFSBase implements VCPU.SetFSBase.
func (c *kvmVCPU) SetFSBase(v uint64) { c.setMSROrLog(msrFSBase, v) }

// GSBase implements VCPU.GSBase.
func (c *kvmVCPU) GSBase() uint64 { return c.msrOrLog(msrGSBase) }

// SetGSBase implements VCPU.SetGSBase.
func (c *kvmVCPU) SetGSBase(v uint64) { c.setMSROrLog(msrGSBase, v) }

// FPState implements VCPU.FPState with KVM_GET_XSAVE (4096 bytes: the
// legacy area, the XSAVE header and AVX/AVX-512 state).
func (c *kvmVCPU) FPState() ([]byte, error) {
	if c.isClosed() {
		return nil, errClosed
	}
	if err := kvmXSaveIoctl(c.fd, kvmGetXSave, &c.xsave); err != nil {
		return nil, fmt.Errorf("kvm: KVM_GET_XSAVE: %w", err)
	}
	return append([]byte(nil), c.xsave[:]...), nil
}

// SetFPState implements VCPU.SetFPState. A shorter image (for example a
// bare 512-byte FXSAVE area) overlays the current state.
func (c *kvmVCPU) SetFPState(b []byte) error {
	if c.isClosed() {
		return errClosed
	}
	if len(b) > kvmXSaveSize {
		return fmt.Errorf("kvm: FP state of %d bytes, at most %d: %w", len(b), kvmXSaveSize, unix.EINVAL)
	}
	if len(b) < kvmXSaveSize {
		if err := kvmXSaveIoctl(c.fd, kvmGetXSave, &c.xsave); err != nil {
			return fmt.Errorf("kvm: KVM_GET_XSAVE: %w", err)
		}
	}
	copy(c.xsave[:], b)
	if err := kvmXSaveIoctl(c.fd, kvmSetXSave, &c.xsave); err != nil {
		return fmt.Errorf("kvm: KVM_SET_XSAVE: %w", err)
	}
	return nil
}

// Close implements VCPU.Close: it kicks a running Run, waits for it to
// return, and parks the KVM vCPU for the next NewVCPU (see kvm_vcpu_pool.go).
// The handle is inert afterwards.
func (c *kvmVCPU) Close() error {
	c.Kick()
	c.runMu.Lock()
	c.lifeMu.Lock()
	if c.closed {
		c.lifeMu.Unlock()
		c.runMu.Unlock()
		return nil
	}
	c.closed = true
	p := idleVCPU{id: c.id, fd: c.fd, run: c.run, area: c.area, ring0: c.ring0}
	c.fd, c.run = -1, nil
	c.lifeMu.Unlock()
	c.runMu.Unlock()
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, v := range m.vcpus {
		if v == c {
			m.vcpus = append(m.vcpus[:i], m.vcpus[i+1:]...)
			break
		}
	}
	if m.closed {
		return m.release(p)
	}
	m.idle = append(m.idle, p)
	return nil
}
