package hvf

import "encoding/binary"

// Machine code the KVM backend places in the guest's system area. There is
// no assembler in the build, so every instruction is encoded here by hand
// and decoded in a comment; x86_stubs_test.go checks the encodings.
//
// Code page (supervisor, executable), one 32-byte stub per vector 0..31:
//
//	vectors without an error code      vectors with one (8 10-14 17 21 29 30)
//	  6a 00     push $0   ; err          6a 00     push $0   ; aux
//	  6a 00     push $0   ; aux          6a vv     push $vec
//	  6a vv     push $vec                a2 <a64>  movabs %al, excMMIO
//	  a2 <a64>  movabs %al, excMMIO      0f 0b     ud2
//	  0f 0b     ud2
//
// #PF (14) also saves CR2 in the aux slot without clobbering a register:
//
//	50           push %rax
//	0f 20 d0     mov  %cr2, %rax
//	48 87 04 24  xchg %rax, (%rsp)      ; aux = cr2, rax restored
//	6a 0e        push $14
//	a2 <a64>     movabs %al, excMMIO
//	0f 0b        ud2
//
// Every stub therefore leaves the same 8-word frame on the ring-0 stack,
// [vec, aux, err, rip, cs, rflags, rsp, ss], and exits with one store to
// the exception MMIO address (a GPA outside every memory slot, so KVM
// returns KVM_EXIT_MMIO). The host never lets a stub continue: it resumes
// the vCPU at the shared iretq with RSP pointing at a 5-word frame it wrote.
//
//	48 cf        iretq                  ; at codeIretq
//
// Trampoline page (user, executable) at LSTAR:
//
//	a2 <a64>     movabs %al, sysMMIO    ; the syscall exit; clobbers nothing
//	0f 0b        ud2                    ; never reached: host sets rip
//
// On PVM the trampoline runs in ring 3 (SYSCALL does not change CPL there);
// on VMX/SVM it runs in ring 0 with the user stack untouched.

const (
	stubSize     = 32
	stubVectors  = 32
	codeIretq    = stubVectors * stubSize // offset of iretq in the code page
	trampSyscall = 0                      // offset of the syscall entry in the trampoline page
)

// vectorHasErrorCode reports whether the CPU pushes an error code for v.
func vectorHasErrorCode(v int) bool {
	switch v {
	case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30:
		return true
	}
	return false
}

// frame word indexes of an exception frame at the exit RSP.
const (
	frameVec = iota
	frameAux
	frameErr
	frameRIP
	frameCS
	frameRFLAGS
	frameRSP
	frameSS
	frameWords
)

func putMovabsAL(b []byte, addr uint64) int {
	b[0] = 0xa2
	binary.LittleEndian.PutUint64(b[1:], addr)
	return 9
}

// exceptionStub encodes the stub for vector v (at most stubSize bytes).
func exceptionStub(v int, excMMIO uint64) []byte {
	b := make([]byte, stubSize)
	n := 0
	switch {
	case v == VectorPF:
		n += copy(b[n:], []byte{0x50, 0x0f, 0x20, 0xd0, 0x48, 0x87, 0x04, 0x24})
	case vectorHasErrorCode(v):
		n += copy(b[n:], []byte{0x6a, 0x00})
	default:
		n += copy(b[n:], []byte{0x6a, 0x00, 0x6a, 0x00})
	}
	n += copy(b[n:], []byte{0x6a, byte(v)})
	n += putMovabsAL(b[n:], excMMIO)
	n += copy(b[n:], []byte{0x0f, 0x0b})
	// Pad with int3 (0xcc) so a stray jump into padding traps.
	for i := n; i < stubSize; i++ {
		b[i] = 0xcc
	}
	return b
}

// buildCodePage writes the exception stubs and the iretq into page.
func buildCodePage(page []byte, excMMIO uint64) {
	for i := range page {
		page[i] = 0xcc
	}
	for v := range stubVectors {
		copy(page[v*stubSize:], exceptionStub(v, excMMIO))
	}
	copy(page[codeIretq:], []byte{0x48, 0xcf})
}

// buildTrampolinePage writes the SYSCALL entry into page.
func buildTrampolinePage(page []byte, sysMMIO uint64) {
	for i := range page {
		page[i] = 0xcc
	}
	n := putMovabsAL(page[trampSyscall:], sysMMIO)
	copy(page[trampSyscall+n:], []byte{0x0f, 0x0b})
}

// buildIDT writes 32 gates to the stubs at codeBase into idt (4096 bytes);
// vectors 32..255 stay not-present (#GP if a guest uses int $n).
func buildIDT(idt []byte, codeBase uint64) {
	for i := range idt {
		idt[i] = 0
	}
	for v := range stubVectors {
		attr := uint8(gateIntDPL0)
		if v == VectorBP || v == VectorOF {
			attr = gateIntDPL3
		}
		var ist uint8
		switch v {
		case 2, 8, 18: // NMI, #DF, #MC: known-good stack
			ist = 1
		}
		lo, hi := idtGate(codeBase+uint64(v*stubSize), selKernelCS, ist, attr)
		binary.LittleEndian.PutUint64(idt[v*16:], lo)
		binary.LittleEndian.PutUint64(idt[v*16+8:], hi)
	}
}
