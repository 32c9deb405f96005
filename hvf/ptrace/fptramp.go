package ptrace

import (
	"encoding/binary"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// Loading an FP image on the way into the guest.
//
// A whole XSAVE image set with PTRACE_SETREGSET (NT_X86_XSTATE) makes the
// host kernel vmalloc a buffer for it: page-table writes and a TLB flush,
// ~60 µs on a PVM host, where each of those traps. A shell pays it four
// times a command: the fork child's state, exec's reset, and a SIGCHLD
// handler's clean state and its sigreturn. Instead, the image goes into
// the stub's FP area with the process_vm_writev that stages it, and the
// guest is resumed at the FP trampoline, which loads it with XRSTOR (what
// Linux's own sigreturn does) and jumps to the guest's RIP with every
// register as the guest left it:
//
//	mov  [slots+0], rax
//	mov  [slots+8], rdx
//	mov  eax, -1
//	mov  edx, eax            ; every component: clear bits mean initial
//	xrstor64 [area]
//	mov  rax, [slots+0]
//	mov  rdx, [slots+8]
//	jmp  [slots+16]          ; the guest's RIP
//
// Only images XRSTOR takes as they are go this way (see xsaveHost.accepts),
// and only in a single-threaded stub (the area is the stub's one). A stop
// while RIP is still in the trampoline (a signal) puts the guest's
// registers back and leaves the image pending for the next run; a fault
// there sets it the old way.

// singleThreaded reports whether the stub has one thread (its FP area is
// then the one vCPU's).
func (m *machine) singleThreaded() bool { return m.threads == nil || m.threads.n.Load() == 0 }

// fpTrampCode returns the trampoline's bytes, for fpTrampAddr.
func fpTrampCode() []byte {
	var c []byte
	// ripRel appends an instruction whose last 4 bytes are a RIP-relative
	// displacement to target.
	ripRel := func(op []byte, target uint64) {
		c = append(c, op...)
		next := fpTrampAddr + uint64(len(c)) + 4
		c = binary.LittleEndian.AppendUint32(c, uint32(int32(int64(target)-int64(next))))
	}
	ripRel([]byte{0x48, 0x89, 0x05}, fpSlots)      // mov [rip+d], rax
	ripRel([]byte{0x48, 0x89, 0x15}, fpSlots+8)    // mov [rip+d], rdx
	c = append(c, 0xb8, 0xff, 0xff, 0xff, 0xff)    // mov eax, -1
	c = append(c, 0x89, 0xc2)                      // mov edx, eax
	ripRel([]byte{0x48, 0x0f, 0xae, 0x2d}, fpArea) // xrstor64 [rip+d]
	ripRel([]byte{0x48, 0x8b, 0x05}, fpSlots)      // mov rax, [rip+d]
	ripRel([]byte{0x48, 0x8b, 0x15}, fpSlots+8)    // mov rdx, [rip+d]
	ripRel([]byte{0xff, 0x25}, fpSlots+16)         // jmp [rip+d]
	return c
}

// fpTrampLen is the trampoline's length.
var fpTrampLen = uint64(len(fpTrampCode()))

// inFPTramp reports whether rip lies in the trampoline.
func inFPTramp(rip uint64) bool { return rip >= fpTrampAddr && rip < fpTrampAddr+fpTrampLen }

// Offsets and bits of an XSAVE image.
const (
	// xstateBVAt is XSTATE_BV's offset, the header's start; xstateFPSSE
	// are its x87 and SSE bits.
	xstateBVAt  = 512
	xstateFPSSE = 0b11
	fxMXCSR     = 24
	fxMXCSRMask = 28
	// fxXCR0 is where the image PTRACE_GETREGSET writes holds XCR0, the
	// components the host enables (in software-reserved bytes; GDB
	// reads it there too).
	fxXCR0 = 464
	// xstateAMX are the AMX components, which the host may make fault
	// until the process asks for them (XFD): never through XRSTOR here.
	xstateAMX = 3 << 17
)

// xsaveHost describes what XRSTOR accepts on this host, learnt from an
// image the host kernel wrote.
type xsaveHost struct {
	size      int
	features  uint64
	mxcsrMask uint32
}

// hostXsave is this host's, once an FPState read learnt it.
var hostXsave atomic.Pointer[xsaveHost]

// learnXsaveHost takes what an image the kernel wrote says about the host.
func learnXsaveHost(b []byte) {
	if hostXsave.Load() != nil || len(b) < xstateBVAt+64 {
		return
	}
	le := binary.LittleEndian
	xcr0 := le.Uint64(b[fxXCR0:])
	if xcr0&xstateFPSSE != xstateFPSSE {
		return // not what this kernel writes there
	}
	mask := le.Uint32(b[fxMXCSRMask:])
	if mask == 0 {
		mask = 0xffbf // the default, as the SDM says
	}
	hostXsave.Store(&xsaveHost{size: len(b), features: xcr0, mxcsrMask: mask})
}

// accepts reports whether XRSTOR loads the standard-form image b without
// a fault: the host's size, only components the host supports (and no
// AMX), a zero XCOMP_BV and reserved header, and an MXCSR without
// reserved bits. A guest's sigreturn frame that fails these goes the
// checked way (PTRACE_SETREGSET), which rejects it.
func (h *xsaveHost) accepts(b []byte) bool {
	if h == nil || len(b) != h.size || len(b) > fpAreaMax {
		return false
	}
	le := binary.LittleEndian
	bv := le.Uint64(b[xstateBVAt:])
	if bv&^h.features != 0 || bv&xstateAMX != 0 || le.Uint64(b[xstateBVAt+8:]) != 0 {
		return false
	}
	for _, c := range b[xstateBVAt+16 : xstateBVAt+64] {
		if c != 0 {
			return false
		}
	}
	return le.Uint32(b[fxMXCSR:])&^h.mxcsrMask == 0
}

// stageFPTramp writes the pending image and the guest's RAX, RDX and RIP
// into the stub for the trampoline, when it can take the image, and
// reports whether it did (else the caller loads the image the old way).
func (v *vcpu) stageFPTramp() bool {
	m := v.m
	if v.fpNoTramp || !m.singleThreaded() {
		return false
	}
	h := hostXsave.Load()
	if h == nil {
		v.learnXsaveFromStub()
		h = hostXsave.Load()
	}
	if !h.accepts(v.fpAtRun) {
		return false
	}
	buf := make([]byte, fpArea-fpSlots+uint64(len(v.fpAtRun)))
	le := binary.LittleEndian
	le.PutUint64(buf[0:], v.regs.RAX)
	le.PutUint64(buf[8:], v.regs.RDX)
	le.PutUint64(buf[16:], v.regs.RIP)
	copy(buf[fpArea-fpSlots:], v.fpAtRun)
	return m.writeStub(fpSlots, buf) == nil
}

// learnXsaveFromStub reads the stub's state once to learn xsaveHost.
func (v *vcpu) learnXsaveFromStub() {
	if v.xsaveSize < 0 {
		return
	}
	buf := make([]byte, xstateMax)
	if n, err := getRegSet(v.m.pid, unix.NT_X86_XSTATE, buf); err == nil {
		learnXsaveHost(buf[:n])
	}
}

// trampStopped settles a trampoline run that stopped at a signal: with
// RIP past the trampoline the image is loaded; with RIP in it the guest's
// registers (saved) go back and the image stays pending, set the checked
// way next time after a fault. It reports whether the stop was in the
// trampoline (the caller reports an interruption, the signal dropped).
func (v *vcpu) trampStopped(saved *hvf.Regs, fault bool) bool {
	if !inFPTramp(v.m.host.Rip) {
		v.fpAtRun = nil
		return false
	}
	v.regs = *saved
	v.m.hostStale = true
	if fault {
		v.fpNoTramp = true
	}
	return true
}
