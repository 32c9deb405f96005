package hvf

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// KVM never destroys a vCPU before its VM: closing the descriptor leaves it
// allocated, and a VM holds at most KVM_MAX_VCPUS of them (1024 on common
// builds). A guest that keeps creating and joining threads would run out,
// so a closed vCPU is parked here with its descriptor, kvm_run page and
// system pages, and the next NewVCPU takes it back after a reset of the
// state a new thread must not inherit (registers, FS/GS bases, FPU).

// idleVCPU is a closed vCPU's KVM side.
type idleVCPU struct {
	id    int
	fd    int
	run   []byte
	area  cpuArea
	ring0 bool // where the CPU is parked; the next resume depends on it
}

// reuseVCPU returns a parked vCPU reset for a new thread, or nil (then the
// caller creates one). Preconditions: m.mu held.
func (m *kvmMachine) reuseVCPU() *kvmVCPU {
	for len(m.idle) > 0 {
		p := m.idle[len(m.idle)-1]
		m.idle = m.idle[:len(m.idle)-1]
		c := &kvmVCPU{m: m, id: p.id, fd: p.fd, run: p.run, area: p.area, ring0: p.ring0}
		if err := c.reset(); err != nil {
			m.log.Warn("cannot reuse a closed vCPU", "vcpu", p.id, "error", err)
			m.release(p)
			continue
		}
		return c
	}
	return nil
}

// reset gives a reused vCPU the state of a new one: registers zero but
// RFLAGS, no pending kick, FS/GS bases 0, FPU/SSE/AVX in their initial
// state. The CPU stays where it is parked (c.ring0 tells the next Run).
func (c *kvmVCPU) reset() error {
	setImmediateExit(c.run, false)
	binary.LittleEndian.PutUint64(c.run[runDirtyRegs:], 0)
	c.regs = Regs{RFLAGS: rflagsIF | rflagsFixed}
	if err := c.setMSRs(
		kvmMSREntry{Index: msrFSBase},
		kvmMSREntry{Index: msrGSBase},
		kvmMSREntry{Index: msrKernelGSBase},
	); err != nil {
		return err
	}
	initialFPState(&c.xsave)
	if err := kvmXSaveIoctl(c.fd, kvmSetXSave, &c.xsave); err != nil {
		return fmt.Errorf("KVM_SET_XSAVE: %w", err)
	}
	return nil
}

// initialFPState writes the XSAVE image of a CPU after reset: FCW 0x37f,
// MXCSR 0x1f80, every register zero, x87 and SSE marked in use so their
// values (rather than whatever the buffer held) are loaded, every other
// component in its initial state.
func initialFPState(b *[kvmXSaveSize]byte) {
	clear(b[:])
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0x37f)   // FCW
	le.PutUint32(b[24:], 0x1f80) // MXCSR
	le.PutUint64(b[512:], xcr0X87|xcr0SSE)
}

// release frees a parked vCPU for good (the KVM vCPU itself lives until
// the VM is closed). Preconditions: m.mu held.
func (m *kvmMachine) release(p idleVCPU) error {
	err := unix.Munmap(p.run)
	if e := unix.Close(p.fd); err == nil {
		err = e
	}
	if m.sysMem != nil {
		m.freeCPUArea(p.area)
	}
	return err
}
