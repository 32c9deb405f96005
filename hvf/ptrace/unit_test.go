package ptrace

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

func TestClassifySignal(t *testing.T) {
	const rip = 0x401000
	x87 := func() fpuKind { return fpuX87 }
	simd := func() fpuKind { return fpuSIMD }
	exc := func(vec uint8, code, addr uint64) hvf.Exit {
		return hvf.Exit{Reason: hvf.ExitException, Vector: vec, ErrorCode: code, FaultAddr: addr}
	}
	tests := []struct {
		name string
		si   sigInfo
		fpu  func() fpuKind
		want hvf.Exit
		ok   bool
	}{
		{"SEGV_MAPERR read is a not-present user #PF",
			sigInfo{int32(unix.SIGSEGV), segvMapErr, 0x9000}, nil, exc(hvf.VectorPF, hvf.PFUser, 0x9000), true},
		{"SEGV_ACCERR data access is a present write #PF",
			sigInfo{int32(unix.SIGSEGV), segvAccErr, 0x9008}, nil, exc(hvf.VectorPF, hvf.PFPresent|hvf.PFWrite|hvf.PFUser, 0x9008), true},
		{"SEGV_ACCERR at RIP is an instruction fetch",
			sigInfo{int32(unix.SIGSEGV), segvAccErr, rip}, nil, exc(hvf.VectorPF, hvf.PFPresent|hvf.PFUser|hvf.PFInstr, rip), true},
		{"SEGV_MAPERR on the next page inside the instruction is a fetch",
			sigInfo{int32(unix.SIGSEGV), segvMapErr, rip + pageSize}, nil, exc(hvf.VectorPF, hvf.PFUser, rip+pageSize), true},
		{"SEGV_PKUERR sets the protection-key bit",
			sigInfo{int32(unix.SIGSEGV), segvPkuErr, 0x9000}, nil, exc(hvf.VectorPF, hvf.PFPresent|hvf.PFUser|pfProtKey, 0x9000), true},
		{"SIGSEGV from the kernel is #GP",
			sigInfo{int32(unix.SIGSEGV), siKernel, 0}, nil, exc(hvf.VectorGP, 0, 0), true},
		{"SIGBUS BUS_ADRERR is a present #PF",
			sigInfo{int32(unix.SIGBUS), 2, 0x7000}, nil, exc(hvf.VectorPF, hvf.PFPresent|hvf.PFUser, 0x7000), true},
		{"SIGBUS BUS_ADRALN is #AC",
			sigInfo{int32(unix.SIGBUS), busAdrAln, 0x7001}, nil, exc(hvf.VectorAC, 0, 0), true},
		{"SIGILL is #UD",
			sigInfo{int32(unix.SIGILL), 2, rip}, nil, exc(hvf.VectorUD, 0, 0), true},
		{"FPE_INTDIV is #DE",
			sigInfo{int32(unix.SIGFPE), fpeIntDiv, rip}, nil, exc(hvf.VectorDE, 0, 0), true},
		{"FPE_FLTDIV from SSE is #XM",
			sigInfo{int32(unix.SIGFPE), 3, rip}, simd, exc(hvf.VectorXM, 0, 0), true},
		{"FPE_FLTDIV from x87 is #MF",
			sigInfo{int32(unix.SIGFPE), 3, rip}, x87, exc(hvf.VectorMF, 0, 0), true},
		{"int3 (SIGTRAP SI_KERNEL) is #BP",
			sigInfo{int32(unix.SIGTRAP), siKernel, 0}, nil, exc(hvf.VectorBP, 0, 0), true},
		{"icebp (TRAP_BRKPT) is #DB",
			sigInfo{int32(unix.SIGTRAP), trapBrkpt, 0}, nil, exc(hvf.VectorDB, 0, 0), true},
		{"single step (TRAP_TRACE) is #DB",
			sigInfo{int32(unix.SIGTRAP), trapTrace, 0}, nil, exc(hvf.VectorDB, 0, 0), true},
		{"SIGSEGV sent by kill is not an exception",
			sigInfo{int32(unix.SIGSEGV), 0, 0}, nil, hvf.Exit{}, false},
		{"SIGTRAP sent by tgkill is not an exception",
			sigInfo{int32(unix.SIGTRAP), -6, 0}, nil, hvf.Exit{}, false},
		{"the kick signal is not an exception",
			sigInfo{int32(unix.SIGURG), -6, 0}, nil, hvf.Exit{}, false},
		{"SIGCHLD from the kernel is not an exception",
			sigInfo{int32(unix.SIGCHLD), 1, 0}, nil, hvf.Exit{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := classifySignal(tt.si, rip, tt.fpu)
			if ok != tt.ok || got != tt.want {
				t.Errorf("classifySignal(%+v) = %+v, %v; want %+v, %v", tt.si, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStubImageIsAStaticELFAboveTheGuestRange(t *testing.T) {
	img := stubImage()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("stub image does not parse as ELF: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Errorf("class/machine/type = %v/%v/%v", f.Class, f.Machine, f.Type)
	}
	if f.Entry != stubEntry {
		t.Errorf("entry = %#x, want %#x", f.Entry, uint64(stubEntry))
	}
	var loads int
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC:
			t.Errorf("stub has %v: it must be static", p.Type)
		case elf.PT_LOAD:
			loads++
			if p.Vaddr < 1<<46 {
				t.Errorf("PT_LOAD at %#x overlaps the guest range", p.Vaddr)
			}
			if p.Flags&elf.PF_W != 0 && p.Flags&elf.PF_X != 0 {
				t.Errorf("PT_LOAD at %#x is writable and executable", p.Vaddr)
			}
			if p.Off+p.Filesz > uint64(len(img)) {
				t.Errorf("PT_LOAD at %#x reads past the image", p.Vaddr)
			}
		}
	}
	if loads != 2 {
		t.Errorf("%d PT_LOAD segments, want code and scratch", loads)
	}
	if got := img[gadgetOff : gadgetOff+3]; !bytes.Equal(got, []byte{0x0f, 0x05, 0xcc}) {
		t.Errorf("gadget = % x, want syscall; int3", got)
	}
}

func TestParseMaps(t *testing.T) {
	in := []byte("500000000000-500000001000 r-xp 00000000 00:01 5 /memfd:stub (deleted)\n" +
		"7ffc1000-7ffc2000 rw-p 00000000 00:00 0                          [stack]\n" +
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n")
	got, err := parseMaps(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x500000000000, 0x500000001000}, {0x7ffc1000, 0x7ffc2000}, {0xffffffffff600000, 0xffffffffff601000}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("region %d = %#x, want %#x", i, got[i], want[i])
		}
	}
	if _, err := parseMaps([]byte("garbage\n")); err == nil {
		t.Error("parseMaps accepted a line without a range")
	}
}

func TestBadRangesAreRefused(t *testing.T) {
	g := newGuest(t, nil)
	tests := []struct {
		name       string
		addr, size uint64
	}{
		{"unaligned address", extraAddr + 1, pageSize},
		{"unaligned length", extraAddr, 100},
		{"empty", extraAddr, 0},
		{"past the address limit", 1<<46 - pageSize, 2 * pageSize},
		{"over the stub", stubBase, pageSize},
		{"wrapping", ^uint64(0) &^ (pageSize - 1), 2 * pageSize},
	}
	// No subtests: the machine may only be used from this goroutine.
	for _, tt := range tests {
		if err := g.m.Map(tt.addr, tt.size, hvf.ProtRead, g.fd, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: Map = %v, want EINVAL", tt.name, err)
		}
		if err := g.m.Protect(tt.addr, tt.size, hvf.ProtRead); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: Protect = %v, want EINVAL", tt.name, err)
		}
		if err := g.m.Unmap(tt.addr, tt.size); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: Unmap = %v, want EINVAL", tt.name, err)
		}
	}
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, 100); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Map with an unaligned offset = %v, want EINVAL", err)
	}
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, 9999, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("Map of a closed descriptor = %v, want EBADF", err)
	}
	// The machine still works after refusing all that.
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
		t.Errorf("Map after refusals: %v", err)
	}
}

// fileKeyOf tells a named file (whose stub descriptor Apply drops when it
// is open for writing) from a memfd (the guest's RAM, kept cached).
func TestFileKeyOfNamed(t *testing.T) {
	mfd, err := unix.MemfdCreate("ram", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mfd)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if k, named, err := fileKeyOf(mfd); err != nil || named || k.accMode != unix.O_RDWR {
		t.Fatalf("memfd: key %+v named %v err %v; want unnamed, O_RDWR", k, named, err)
	}
	if k, named, err := fileKeyOf(int(f.Fd())); err != nil || !named || k.accMode != unix.O_RDWR {
		t.Fatalf("file: key %+v named %v err %v; want named, O_RDWR", k, named, err)
	}
}
