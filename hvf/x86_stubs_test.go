package hvf

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// stubCPU interprets the handful of instructions the stubs use, so the
// tests check what the bytes do, not only what they are.
type stubCPU struct {
	rax, cr2 uint64
	stack    []uint64 // stack[len-1] is the top
	store    uint64   // address of the exiting movabs store
}

func (c *stubCPU) exec(t *testing.T, code []byte) (n int) {
	t.Helper()
	for n < len(code) {
		switch {
		case code[n] == 0x6a: // push imm8 (sign-extended)
			c.stack = append(c.stack, uint64(int64(int8(code[n+1]))))
			n += 2
		case code[n] == 0x50: // push %rax
			c.stack = append(c.stack, c.rax)
			n++
		case bytes.HasPrefix(code[n:], []byte{0x0f, 0x20, 0xd0}): // mov %cr2,%rax
			c.rax = c.cr2
			n += 3
		case bytes.HasPrefix(code[n:], []byte{0x48, 0x87, 0x04, 0x24}): // xchg %rax,(%rsp)
			top := len(c.stack) - 1
			c.rax, c.stack[top] = c.stack[top], c.rax
			n += 4
		case code[n] == 0xa2: // movabs %al, moffs64: the exit
			c.store = binary.LittleEndian.Uint64(code[n+1:])
			return n + 9
		default:
			t.Fatalf("unexpected opcode %#x at +%d in % x", code[n], n, code)
		}
	}
	t.Fatalf("stub ran off its end: % x", code)
	return n
}

func TestExceptionStubsLeaveUniformFrame(t *testing.T) {
	const excMMIO = 0x400040001000
	const (
		rip, cs, rflags, rsp, ss = 0x401000, 0x33, 0x246, 0x7ffff000, 0x2b
		err                      = 0x7
		cr2, rax                 = 0xdead000, 0x1234
	)
	for v := range stubVectors {
		code := exceptionStub(v, excMMIO)
		if len(code) != stubSize {
			t.Fatalf("vector %d: stub is %d bytes", v, len(code))
		}
		c := &stubCPU{rax: rax, cr2: cr2, stack: []uint64{ss, rsp, rflags, cs, rip}}
		if vectorHasErrorCode(v) {
			c.stack = append(c.stack, err)
		}
		n := c.exec(t, code)
		if c.store != excMMIO {
			t.Errorf("vector %d: exits through %#x, want %#x", v, c.store, excMMIO)
		}
		if !bytes.Equal(code[n:n+2], []byte{0x0f, 0x0b}) {
			t.Errorf("vector %d: no ud2 after the exit store", v)
		}
		if c.rax != rax {
			t.Errorf("vector %d: rax clobbered (%#x)", v, c.rax)
		}
		if len(c.stack) != frameWords {
			t.Fatalf("vector %d: frame of %d words, want %d", v, len(c.stack), frameWords)
		}
		// Reverse into memory order: index 0 at the exit rsp.
		var f [frameWords]uint64
		for i := range f {
			f[i] = c.stack[len(c.stack)-1-i]
		}
		wantErr, wantAux := uint64(0), uint64(0)
		if vectorHasErrorCode(v) {
			wantErr = err
		}
		if v == VectorPF {
			wantAux = cr2
		}
		want := [frameWords]uint64{uint64(v), wantAux, wantErr, rip, cs, rflags, rsp, ss}
		if f != want {
			t.Errorf("vector %d: frame %#x, want %#x", v, f, want)
		}
	}
}

func TestCodePageHasIretqAfterStubs(t *testing.T) {
	page := make([]byte, pageSize)
	buildCodePage(page, 0x400040001000)
	if !bytes.Equal(page[codeIretq:codeIretq+2], []byte{0x48, 0xcf}) {
		t.Errorf("iretq bytes % x", page[codeIretq:codeIretq+2])
	}
	if codeIretq < stubVectors*stubSize {
		t.Errorf("iretq overlaps the stubs")
	}
}

func TestTrampolineIsOneStoreToSyscallMMIO(t *testing.T) {
	page := make([]byte, pageSize)
	buildTrampolinePage(page, 0x400040000000)
	want := []byte{0xa2, 0x00, 0x00, 0x00, 0x40, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x0b}
	if got := page[trampSyscall : trampSyscall+len(want)]; !bytes.Equal(got, want) {
		t.Errorf("trampoline % x, want % x", got, want)
	}
}

func TestIDTPointsAtStubsWithLinuxDPLs(t *testing.T) {
	const codeBase = 0x400000000000
	idt := make([]byte, pageSize)
	buildIDT(idt, codeBase)
	for v := range 256 {
		lo := binary.LittleEndian.Uint64(idt[v*16:])
		hi := binary.LittleEndian.Uint64(idt[v*16+8:])
		if v >= stubVectors {
			if lo != 0 || hi != 0 {
				t.Errorf("vector %d present", v)
			}
			continue
		}
		handler := lo&0xffff | (lo>>48&0xffff)<<16 | hi<<32
		if handler != codeBase+uint64(v*stubSize) {
			t.Errorf("vector %d handler %#x", v, handler)
		}
		if sel := lo >> 16 & 0xffff; sel != selKernelCS {
			t.Errorf("vector %d selector %#x", v, sel)
		}
		attr := lo >> 40 & 0xff
		wantAttr := uint64(0x8e)
		if v == 3 || v == 4 {
			wantAttr = 0xee
		}
		if attr != wantAttr {
			t.Errorf("vector %d attr %#x, want %#x", v, attr, wantAttr)
		}
		ist := lo >> 32 & 7
		wantIST := uint64(0)
		if v == 2 || v == 8 || v == 18 {
			wantIST = 1
		}
		if ist != wantIST {
			t.Errorf("vector %d IST %d, want %d", v, ist, wantIST)
		}
	}
}
