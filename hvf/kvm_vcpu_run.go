package hvf

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// The run loop of a KVM vCPU: one KVM_RUN per exit, registers through sync
// regs. See exitmech.go for where SYSCALL parks the CPU and x86_stubs.go for
// the exception frame.

// Run implements VCPU.Run. It must be called from the goroutine, locked to
// its OS thread, that owns the vCPU: Kick signals that thread.
func (c *kvmVCPU) Run() (Exit, error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.closed {
		return Exit{}, errClosed
	}
	c.tid.Store(int32(unix.Gettid()))
	if c.m.stale.Load() {
		// kvm_keep.go: what the previous process left, unclaimed.
		if err := c.m.dropStale(); err != nil {
			return Exit{}, err
		}
	}
	if c.kicked.Swap(false) {
		setImmediateExit(c.run, false)
		return Exit{Reason: ExitInterrupted}, nil
	}
	if !canonical(c.regs.RIP) {
		// VM entry with a non-canonical RIP fails on VMX, and iretq to
		// one faults in ring 0; Linux reports the return as a #GP.
		return Exit{Reason: ExitException, Vector: VectorGP}, nil
	}
	c.load()
	retried := false
	for {
		errno := c.enter()
		if errno == 0 && binary.LittleEndian.Uint32(c.run[runExitReason:]) == kvmExitIntr {
			errno = unix.EINTR // same meaning, reported without the errno by some paths
		}
		switch errno {
		case 0:
			return c.decodeExit()
		case unix.EINTR:
			setImmediateExit(c.run, false)
			if exit, done := c.interrupted(); done {
				return exit, nil
			}
			// The CPU is inside a stub: let it reach its exit (a few
			// instructions); a pending kick stays pending and makes the
			// next Run return ExitInterrupted at once.
		case unix.EFAULT:
			// A file page past EOF (kvm_eof.go): once, the guest
			// then faults on it where it can be told.
			if !retried {
				retried = true
				if found, err := c.m.dropPastEOF(); err == nil && found {
					continue
				}
			}
			fallthrough
		default:
			reason := binary.LittleEndian.Uint32(c.run[runExitReason:])
			return Exit{}, c.runError(fmt.Sprintf("KVM_RUN: %v; %s", errno, c.exitDetail(reason)))
		}
	}
}

// enter issues one KVM_RUN (replaced in unit tests).
func (c *kvmVCPU) enter() unix.Errno {
	if c.fakeRun != nil {
		return c.fakeRun()
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(c.fd), kvmRun, 0)
	return errno
}

// interrupted decides what an EINTR from KVM_RUN means (done=false: resume
// without reporting). sync regs are valid after EINTR.
func (c *kvmVCPU) interrupted() (Exit, bool) {
	raw := c.rawRegs()
	iret := c.m.sysVA(sysCodeOff + codeIretq)
	switch {
	case c.ring0 && raw.RIP == iret:
		// Interrupted before the resume executed: regs still hold the
		// user state and the next Run rebuilds the frame.
	case c.inSysCode(raw.RIP):
		return Exit{}, false
	default:
		c.fromRaw(&raw)
		c.ring0 = false
	}
	c.kicked.Store(false)
	return Exit{Reason: ExitInterrupted}, true
}

// inSysCode reports whether rip is in the code or trampoline page.
func (c *kvmVCPU) inSysCode(rip uint64) bool {
	return rip >= c.m.sysVA(sysCodeOff) && rip < c.m.sysVA(sysTrampOff+pageSize)
}

// inTrampoline reports whether rip is in the trampoline page.
func (c *kvmVCPU) inTrampoline(rip uint64) bool {
	return rip >= c.m.sysVA(sysTrampOff) && rip < c.m.sysVA(sysTrampOff+pageSize)
}

// load writes regs into s.regs and marks them dirty. From ring 0 the CPU
// resumes at the shared iretq with a frame on its ring-0 stack.
func (c *kvmVCPU) load() {
	r := c.toRaw()
	r.RFLAGS = userRFLAGS(c.regs.RFLAGS)
	if c.ring0 {
		top := c.area.rsp0Top()
		c.putStack(top-40, r.RIP, selUserCS, r.RFLAGS, r.RSP, selUserDS)
		r.RSP = top - 40
		r.RIP = c.m.sysVA(sysCodeOff + codeIretq)
		r.RFLAGS = rflagsFixed
	}
	c.putRawRegs(&r)
	binary.LittleEndian.PutUint64(c.run[runDirtyRegs:], kvmSyncX86Regs)
}

// decodeExit turns the exit in kvm_run into an Exit.
func (c *kvmVCPU) decodeExit() (Exit, error) {
	reason := binary.LittleEndian.Uint32(c.run[runExitReason:])
	if reason != kvmExitMMIO {
		return Exit{}, c.runError(c.exitDetail(reason))
	}
	pa := binary.LittleEndian.Uint64(c.run[runMMIOPhysAddr:])
	if c.run[runMMIOIsWrite] != 1 {
		// Only the stubs' stores are expected; a read would also need
		// its data completed by re-entering the emulator.
		return Exit{}, c.runError(fmt.Sprintf("KVM_EXIT_MMIO read at %#x", pa))
	}
	raw := c.rawRegs()
	switch pa {
	case c.m.mmioSys:
		// Only the trampoline's store comes from SYSCALL; any other store
		// to this user-writable page is user code in ring 3 pretending,
		// served like a syscall without asking (or teaching) the probe.
		inRing0 := false
		if c.inTrampoline(raw.RIP) {
			mech, err := c.exitMech()
			if err != nil {
				return Exit{}, err
			}
			inRing0 = mech.syscallInRing0()
		}
		c.fromRaw(&raw)
		c.regs.RIP = raw.RCX
		c.regs.RFLAGS = userRFLAGS(raw.R11)
		c.ring0 = inRing0
		return Exit{Reason: ExitSyscall}, nil
	case c.m.mmioExc:
		f, ok := c.frame(raw.RSP)
		if !ok {
			return Exit{}, c.runError(fmt.Sprintf("exception exit with ring-0 rsp %#x outside the vCPU stacks", raw.RSP))
		}
		if f[frameCS]&3 != 3 {
			return Exit{}, c.runError(fmt.Sprintf("exception %d (error %#x, cr2 %#x) in ring 0 at rip %#x",
				f[frameVec], f[frameErr], f[frameAux], f[frameRIP]))
		}
		c.fromRaw(&raw)
		c.regs.RIP = f[frameRIP]
		c.regs.RFLAGS = f[frameRFLAGS]
		c.regs.RSP = f[frameRSP]
		c.ring0 = true
		e := Exit{Reason: ExitException, Vector: uint8(f[frameVec]), ErrorCode: f[frameErr]}
		if e.Vector == VectorPF {
			e.FaultAddr = f[frameAux]
		}
		return e, nil
	}
	return Exit{}, c.runError(fmt.Sprintf("KVM_EXIT_MMIO at unexpected address %#x", pa))
}

// exitMech returns the probed mechanism, probing on first use.
func (c *kvmVCPU) exitMech() (exitMech, error) {
	if box := c.m.b.mech.Load(); box != nil {
		return box.exitMech, nil
	}
	var s kvmSregs
	if err := kvmGetSregsIoctl(c.fd, &s); err != nil {
		return nil, fmt.Errorf("kvm: exit-mechanism probe: KVM_GET_SREGS: %w", err)
	}
	mech := probeExitMech(s.CS)
	c.m.b.mech.CompareAndSwap(nil, &exitMechBox{mech})
	c.m.log.Info("syscall exit mechanism", "mechanism", mech.String(),
		"cs", fmt.Sprintf("%#x", s.CS.Selector))
	return c.m.b.mech.Load().exitMech, nil
}

// frame reads the 8-word exception frame at a ring-0 rsp, which must lie
// in this vCPU's ring-0 or IST stack.
func (c *kvmVCPU) frame(rsp uint64) (f [frameWords]uint64, ok bool) {
	in := func(top uint64) bool {
		return rsp >= top-pageSize && rsp+frameWords*8 <= top && rsp%8 == 0
	}
	if !in(c.area.rsp0Top()) && !in(c.area.istTop()) {
		return f, false
	}
	pa := rsp - c.area.va
	page := c.m.sysPage(pa &^ (pageSize - 1))
	off := pa % pageSize
	for i := range f {
		f[i] = binary.LittleEndian.Uint64(page[off+uint64(i)*8:])
	}
	return f, true
}

// putStack writes words at guest virtual at on the vCPU's ring-0 stack.
func (c *kvmVCPU) putStack(at uint64, words ...uint64) {
	pa := at - c.area.va
	page := c.m.sysPage(pa &^ (pageSize - 1))
	off := pa % pageSize
	for i, w := range words {
		binary.LittleEndian.PutUint64(page[off+uint64(i)*8:], w)
	}
}

// rawRegs reads s.regs (struct kvm_regs order).
func (c *kvmVCPU) rawRegs() kvmRegs {
	b := c.run[runSyncRegs:]
	g := func(i int) uint64 { return binary.LittleEndian.Uint64(b[i*8:]) }
	return kvmRegs{
		RAX: g(0), RBX: g(1), RCX: g(2), RDX: g(3), RSI: g(4), RDI: g(5), RSP: g(6), RBP: g(7),
		R8: g(8), R9: g(9), R10: g(10), R11: g(11), R12: g(12), R13: g(13), R14: g(14), R15: g(15),
		RIP: g(16), RFLAGS: g(17),
	}
}

func (c *kvmVCPU) putRawRegs(r *kvmRegs) {
	b := c.run[runSyncRegs:]
	for i, v := range [...]uint64{r.RAX, r.RBX, r.RCX, r.RDX, r.RSI, r.RDI, r.RSP, r.RBP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.RIP, r.RFLAGS} {
		binary.LittleEndian.PutUint64(b[i*8:], v)
	}
}

func (c *kvmVCPU) fromRaw(r *kvmRegs) {
	c.regs = Regs{
		R15: r.R15, R14: r.R14, R13: r.R13, R12: r.R12, RBP: r.RBP, RBX: r.RBX,
		R11: r.R11, R10: r.R10, R9: r.R9, R8: r.R8, RAX: r.RAX, RCX: r.RCX,
		RDX: r.RDX, RSI: r.RSI, RDI: r.RDI, RIP: r.RIP, RFLAGS: r.RFLAGS, RSP: r.RSP,
	}
}

func (c *kvmVCPU) toRaw() kvmRegs {
	g := &c.regs
	return kvmRegs{
		RAX: g.RAX, RBX: g.RBX, RCX: g.RCX, RDX: g.RDX, RSI: g.RSI, RDI: g.RDI, RSP: g.RSP, RBP: g.RBP,
		R8: g.R8, R9: g.R9, R10: g.R10, R11: g.R11, R12: g.R12, R13: g.R13, R14: g.R14, R15: g.R15,
		RIP: g.RIP, RFLAGS: g.RFLAGS,
	}
}

// exitDetail describes a non-MMIO exit for an error.
func (c *kvmVCPU) exitDetail(reason uint32) string {
	name, ok := kvmExitNames[reason]
	if !ok {
		name = "unknown exit"
	}
	s := fmt.Sprintf("%s (reason %d)", name, reason)
	u := c.run[runExitUnion:]
	le := binary.LittleEndian
	switch reason {
	case kvmExitFailEntry:
		s += fmt.Sprintf(": hardware entry failure reason %#x", le.Uint64(u))
	case kvmExitInternalError:
		n := min(le.Uint32(c.run[runInternalNData:]), 16)
		s += fmt.Sprintf(": suberror %d", le.Uint32(c.run[runInternalSub:]))
		for i := range n {
			s += fmt.Sprintf(" %#x", le.Uint64(c.run[runInternalData+8*int(i):]))
		}
	case kvmExitIO:
		s += fmt.Sprintf(": port %#x dir %d", le.Uint16(u[2:]), u[0])
	case kvmExitMemoryFault:
		s += fmt.Sprintf(": gpa %#x size %#x flags %#x", le.Uint64(u[8:]), le.Uint64(u[16:]), le.Uint64(u))
	}
	return s
}

// runError builds the error for an exit the backend cannot handle, with the
// registers (and, best effort, the segment state) for the log.
func (c *kvmVCPU) runError(what string) error {
	r := c.rawRegs()
	msg := fmt.Sprintf("kvm: vcpu %d: %s: rip=%#x rsp=%#x rflags=%#x rax=%#x rbx=%#x rcx=%#x rdx=%#x rsi=%#x rdi=%#x rbp=%#x r8=%#x r9=%#x r10=%#x r11=%#x r12=%#x r13=%#x r14=%#x r15=%#x",
		c.id, what, r.RIP, r.RSP, r.RFLAGS, r.RAX, r.RBX, r.RCX, r.RDX, r.RSI, r.RDI, r.RBP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15)
	var s kvmSregs
	if c.fd >= 0 && kvmGetSregsIoctl(c.fd, &s) == nil {
		msg += fmt.Sprintf(" cs=%#x ss=%#x cr0=%#x cr2=%#x cr3=%#x cr4=%#x efer=%#x",
			s.CS.Selector, s.SS.Selector, s.CR0, s.CR2, s.CR3, s.CR4, s.EFER)
	}
	return fmt.Errorf("%s", msg)
}
