package ptrace

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// protectGuest is a guest that makes extraAddr read-only with mprotect,
// stores the result at dataAddr, makes a getppid, and then writes to
// extraAddr (which must fault). extraAddr starts read-write.
func protectGuest(t *testing.T) *guest {
	var a asm
	imm := func(op byte, v uint32) { a.raw(op); a.b = binary.LittleEndian.AppendUint32(a.b, v) }
	imm(0xbf, extraAddr)      // mov $extraAddr,%edi
	imm(0xbe, pageSize)       // mov $pageSize,%esi
	imm(0xba, unix.PROT_READ) // mov $PROT_READ,%edx
	a.movEAX(unix.SYS_MPROTECT).syscall()
	a.storeRAX(dataAddr)
	a.movEAX(unix.SYS_GETPPID).syscall()
	a.storeRAX(extraAddr)
	g := newNotifyGuest(t, a.b)
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead|hvf.ProtWrite, g.fd, extraAddr); err != nil {
		t.Fatal(err)
	}
	return g
}

// expectReadOnly runs g to its store into extraAddr and checks it faults.
func (g *guest) expectReadOnly() {
	g.t.Helper()
	g.cpu.Regs().RAX = 1
	ex := g.run()
	want := hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorPF,
		ErrorCode: hvf.PFPresent | hvf.PFWrite | hvf.PFUser, FaultAddr: extraAddr}
	if ex != want {
		g.t.Fatalf("exit %+v, want %+v", ex, want)
	}
}

// TestNotifyProtectContinues: the handler's Protect of the range the guest's
// mprotect names is left to that mprotect (the answer lets it through): no
// gadget runs, and the page ends read-only.
func TestNotifyProtectContinues(t *testing.T) {
	g := protectGuest(t)
	g.expectSyscall(unix.SYS_MPROTECT)
	runs := g.m.gadgetRuns
	if err := g.m.Protect(extraAddr, pageSize, hvf.ProtRead); err != nil {
		t.Fatal(err)
	}
	if g.m.nf.deferred == nil {
		t.Fatal("the guest's own mprotect was not deferred")
	}
	g.cpu.Regs().RAX = 0
	g.expectSyscall(unix.SYS_GETPPID)
	if g.m.gadgetRuns != runs {
		t.Fatalf("%d gadget runs for a deferred mprotect", g.m.gadgetRuns-runs)
	}
	if got := g.word(dataAddr); got != 0 {
		t.Fatalf("mprotect returned %#x to the guest", got)
	}
	g.expectReadOnly()
}

// TestNotifyDeferredThenAnotherOp: a second Machine operation makes the
// deferred call first (injected), then its own.
func TestNotifyDeferredThenAnotherOp(t *testing.T) {
	g := protectGuest(t)
	g.expectSyscall(unix.SYS_MPROTECT)
	if err := g.m.Protect(extraAddr, pageSize, hvf.ProtRead); err != nil {
		t.Fatal(err)
	}
	runs := g.m.gadgetRuns
	if err := g.m.Protect(dataAddr, pageSize, hvf.ProtRead|hvf.ProtWrite); err != nil {
		t.Fatal(err)
	}
	if g.m.nf.deferred != nil || g.m.gadgetRuns-runs != 2 {
		t.Fatalf("deferred %v, %d gadget runs: want the deferred call and the new one injected", g.m.nf.deferred, g.m.gadgetRuns-runs)
	}
	g.cpu.Regs().RAX = 0
	g.expectSyscall(unix.SYS_GETPPID)
	if got := g.word(dataAddr); got != 0 {
		t.Fatalf("mprotect returned %#x to the guest", got)
	}
	g.expectReadOnly()
}

// TestNotifyDeferredHandlerFails: a handler that fails after its deferred
// call makes it (injected) and returns its own error.
func TestNotifyDeferredHandlerFails(t *testing.T) {
	g := protectGuest(t)
	g.expectSyscall(unix.SYS_MPROTECT)
	if err := g.m.Protect(extraAddr, pageSize, hvf.ProtRead); err != nil {
		t.Fatal(err)
	}
	enomem := -int64(unix.ENOMEM)
	g.cpu.Regs().RAX = uint64(enomem)
	g.expectSyscall(unix.SYS_GETPPID)
	if got := int64(g.word(dataAddr)); got != enomem {
		t.Fatalf("mprotect returned %d to the guest, want -ENOMEM", got)
	}
	g.expectReadOnly()
}

// TestNotifyDeferredWithdrawn: a signal that withdraws the notification
// before the answer leaves the call to the stop that follows, where it is
// injected; the guest's mprotect then returns the handler's result.
func TestNotifyDeferredWithdrawn(t *testing.T) {
	g := protectGuest(t)
	g.expectSyscall(unix.SYS_MPROTECT)
	if err := g.m.Protect(extraAddr, pageSize, hvf.ProtRead); err != nil {
		t.Fatal(err)
	}
	if err := unix.Tgkill(g.m.pid, g.m.pid, unix.SIGURG); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the signal ends the stub's wait
	g.cpu.Regs().RAX = 0
	ex := g.run()
	if ex.Reason != hvf.ExitInterrupted {
		t.Fatalf("exit %+v, want the signal's interruption", ex)
	}
	if g.m.nf.lostOp != nil || g.m.nf.deferred != nil {
		t.Fatal("the withdrawn call was not made")
	}
	g.expectSyscall(unix.SYS_GETPPID)
	if got := g.word(dataAddr); got != 0 {
		t.Fatalf("mprotect returned %#x to the guest", got)
	}
	g.expectReadOnly()
}

// fsGuest is a guest that makes arch_prctl(code, dataAddr), then loads
// the word at %fs:0 (ARCH_SET_FS, or wrfs: a WRFSBASE of dataAddr came
// first) or %gs:0 into dataAddr+8, and makes a getppid.
func fsGuest(t *testing.T, code uint32, wrfs bool) *guest {
	var a asm
	imm := func(op byte, v uint32) { a.raw(op); a.b = binary.LittleEndian.AppendUint32(a.b, v) }
	if wrfs {
		imm(0xb8, dataAddr)                 // mov $dataAddr,%eax
		a.raw(0xf3, 0x48, 0x0f, 0xae, 0xd0) // wrfsbase %rax
	}
	imm(0xbf, code)     // mov $code,%edi
	imm(0xbe, dataAddr) // mov $dataAddr,%esi
	a.movEAX(unix.SYS_ARCH_PRCTL).syscall()
	seg := byte(0x65) // %gs
	if code == archSetFS || wrfs {
		seg = 0x64 // %fs
	}
	a.raw(seg, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0) // mov %seg:0,%rax
	a.storeRAX(dataAddr + 8)
	a.movEAX(unix.SYS_GETPPID).syscall()
	return newNotifyGuest(t, a.b)
}

// TestNotifyFSBaseContinues: the new FS base of the guest's own
// arch_prctl(ARCH_SET_FS) is left to that call, without a halt, also when
// something halts the stub before the answer (LoadRegs) or a GS base is
// set on a partial exit (the stop must not take it back).
func TestNotifyFSBaseContinues(t *testing.T) {
	const archSetGS = 0x1001
	for _, tc := range []struct {
		name      string
		code      uint32
		loadRegs  bool
		wrfs      bool // WRFSBASE first: the halt must keep that FS base
		wantHalts int
	}{
		{"fs", archSetFS, false, false, 0},
		{"fs then LoadRegs", archSetFS, true, false, 1},
		{"gs", archSetGS, false, false, 1},
		{"gs after wrfsbase", archSetGS, false, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wrfs && !cpuFlag(t, "fsgsbase") {
				t.Skip("no FSGSBASE on this CPU: WRFSBASE would fault")
			}
			g := fsGuest(t, tc.code, tc.wrfs)
			g.expectSyscall(unix.SYS_ARCH_PRCTL)
			g.setWord(dataAddr, 0xf5f5)
			if tc.code == archSetFS {
				g.cpu.SetFSBase(dataAddr)
			} else {
				g.cpu.SetGSBase(dataAddr)
			}
			if tc.loadRegs {
				if err := hvf.LoadRegs(g.cpu); err != nil {
					t.Fatal(err)
				}
			}
			g.cpu.Regs().RAX = 0
			g.expectSyscall(unix.SYS_GETPPID)
			if got := g.word(dataAddr + 8); got != 0xf5f5 {
				t.Fatalf("the guest read %#x through the new base, want 0xf5f5", got)
			}
			if tc.code == archSetFS && g.cpu.FSBase() != dataAddr {
				t.Errorf("FSBase() = %#x", g.cpu.FSBase())
			}
			if g.m.halts != tc.wantHalts {
				t.Errorf("%d halts, want %d", g.m.halts, tc.wantHalts)
			}
		})
	}
}

// cpuFlag says whether /proc/cpuinfo lists flag for the first CPU.
func cpuFlag(t *testing.T, flag string) bool {
	b, err := readFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			return slices.Contains(strings.Fields(v), flag)
		}
	}
	return false
}
