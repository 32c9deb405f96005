package ptrace

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/hvf/internal/maplayout"
)

func TestMapsConfirm(t *testing.T) {
	maps := []byte("00400000-00402000 rw-s 00001000 00:01 77 /memfd:ram (deleted)\n" +
		"00402000-00403000 r-xs 00003000 00:01 77 /memfd:ram (deleted)\n" +
		"00500000-00501000 r--p 00000000 fe:00 99 /usr/lib/x\n" +
		"7ffe0000-7ffe1000 rw-p 00000000 00:00 0 [stack]\n")
	lines, err := parseMapLines(maps)
	if err != nil {
		t.Fatal(err)
	}
	ram := maplayout.Key{Dev: unix.Mkdev(0, 1), Ino: 77, AccMode: unix.O_RDWR}
	for _, c := range []struct {
		name string
		s    maplayout.Span
		want bool
	}{
		{"whole line", maplayout.Span{Start: 0x400000, End: 0x402000, Key: ram, Off: 0x1000, Prot: 3}, true},
		{"part of a line", maplayout.Span{Start: 0x401000, End: 0x402000, Key: ram, Off: 0x2000, Prot: 3}, true},
		{"two lines, two protections", maplayout.Span{Start: 0x400000, End: 0x403000, Key: ram, Off: 0x1000, Prot: 3}, false},
		{"wrong offset", maplayout.Span{Start: 0x400000, End: 0x402000, Key: ram, Off: 0, Prot: 3}, false},
		{"wrong file", maplayout.Span{Start: 0x400000, End: 0x402000, Key: maplayout.Key{Dev: unix.Mkdev(0, 1), Ino: 78}, Off: 0x1000, Prot: 3}, false},
		{"private mapping", maplayout.Span{Start: 0x500000, End: 0x501000, Key: maplayout.Key{Dev: unix.Mkdev(0xfe, 0), Ino: 99}, Prot: 1}, false},
		{"not mapped", maplayout.Span{Start: 0x600000, End: 0x601000, Key: ram, Prot: 3}, false},
	} {
		if got := mapsConfirm(lines, &c.s); got != c.want {
			t.Errorf("%s: mapsConfirm = %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := parseMapLines([]byte("garbage\n")); err == nil {
		t.Error("a bad maps line parsed")
	}
}

// TestRecycleKeeping: a keeping recycle leaves the kept file's mappings
// and read-only ones, unmaps the others; the next process claims what it
// maps the same way at no cost, and never sees what it did not map.
func TestRecycleKeeping(t *testing.T) {
	g := newGuest(t, []byte{0x0f, 0x05}) // syscall
	g.cpu.Regs().RAX = 39
	other, err := unix.MemfdCreate("other", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	if err := unix.Ftruncate(other, pageSize); err != nil {
		t.Fatal(err)
	}
	roPath := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(roPath, make([]byte, pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := unix.Open(roPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ro)
	const otherAt, roAt = 0x500000, 0x600000
	if err := g.m.Map(otherAt, pageSize, hvf.ProtRead|hvf.ProtWrite, other, 0); err != nil {
		t.Fatal(err)
	}
	if err := g.m.Map(roAt, pageSize, hvf.ProtRead, ro, 0); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(39)

	starts := func() []uint64 {
		var s []uint64
		for _, r := range guestMappings(t, g.m) {
			s = append(s, r.start)
		}
		return s
	}
	if err := g.m.RecycleKeeping([]int{g.fd}); err != nil {
		t.Fatalf("RecycleKeeping: %v", err)
	}
	if err := g.m.sync(); err != nil {
		t.Fatalf("the recycle batch: %v", err)
	}
	// The code and data pages of g.fd (one line or two) and the
	// read-only file stay; the other memfd goes.
	if got := starts(); !reflect.DeepEqual(got, []uint64{codeAddr, dataAddr, roAt}) {
		t.Fatalf("mappings after a keeping recycle start at %#x, want code, data and the read-only file", got)
	}

	// The next process maps code and data again, as before: claimed; the
	// read-only file it does not map goes in the same batch.
	cpu, err := g.m.NewVCPU()
	if err != nil {
		t.Fatal(err)
	}
	g.cpu = cpu
	runs := g.m.gadgetRuns
	ops := []hvf.MapOp{
		{Kind: hvf.OpMap, Addr: codeAddr, Len: pageSize, Prot: hvf.ProtRead | hvf.ProtExec, Fd: g.fd, Off: codeAddr},
		{Kind: hvf.OpMap, Addr: dataAddr, Len: stackTop - dataAddr, Prot: hvf.ProtRead | hvf.ProtWrite, Fd: g.fd, Off: dataAddr},
	}
	if _, err := g.m.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if g.m.gadgetRuns != runs+1 {
		t.Errorf("%d stub round trips for two claimed maps and a stale unmap, want 1", g.m.gadgetRuns-runs)
	}
	if got := starts(); !reflect.DeepEqual(got, []uint64{codeAddr, dataAddr}) {
		t.Fatalf("mappings after the claims start at %#x, want code and data only", got)
	}
	r := cpu.Regs()
	r.RIP, r.RSP, r.RFLAGS, r.RAX = codeAddr, stackTop, 0x202, 60
	g.expectSyscall(60)

	// Once more: nothing to unmap or map, no round trip at all.
	if err := g.m.RecycleKeeping([]int{g.fd}); err != nil {
		t.Fatal(err)
	}
	if cpu, err = g.m.NewVCPU(); err != nil {
		t.Fatal(err)
	}
	g.cpu = cpu
	runs = g.m.gadgetRuns
	if _, err := g.m.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if g.m.gadgetRuns != runs {
		t.Errorf("%d stub round trips for claims only, want 0", g.m.gadgetRuns-runs)
	}
	r = cpu.Regs()
	r.RIP, r.RSP, r.RFLAGS, r.RAX = codeAddr, stackTop, 0x202, 39
	g.expectSyscall(39)

	// A process that maps nothing runs with nothing mapped: the stale
	// spans go before its guest code runs.
	if err := g.m.RecycleKeeping([]int{g.fd}); err != nil {
		t.Fatal(err)
	}
	if cpu, err = g.m.NewVCPU(); err != nil {
		t.Fatal(err)
	}
	g.cpu = cpu
	r = cpu.Regs()
	r.RIP, r.RSP, r.RFLAGS = codeAddr, stackTop, 0x202
	if ex := g.run(); ex.Reason != hvf.ExitException || ex.Vector != hvf.VectorPF || ex.FaultAddr != codeAddr {
		t.Fatalf("run of a process that mapped nothing: %+v, want #PF at %#x", ex, uint64(codeAddr))
	}
	if got := starts(); len(got) != 0 {
		t.Fatalf("mappings left for a process that mapped nothing: %#x", got)
	}
}

// An exec's batch unmaps the old image and maps the new one, often the
// same file at the same place: the map must not count as a claim of what
// the unmap before it removes.
func TestApplyUnmapThenSameMapMaps(t *testing.T) {
	g := newGuest(t, []byte{0x0f, 0x05})
	ops := []hvf.MapOp{
		{Kind: hvf.OpUnmap, Addr: dataAddr, Len: stackTop - dataAddr},
		{Kind: hvf.OpMap, Addr: dataAddr, Len: stackTop - dataAddr, Prot: hvf.ProtRead | hvf.ProtWrite, Fd: g.fd, Off: dataAddr},
	}
	if _, err := g.m.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if line := stubMapping(t, g.m.pid, dataAddr); line == "" {
		t.Fatal("no mapping after an unmap and the same map in one Apply")
	}
}

// A process that ends while its syscall is held as a notification (killed
// in a sleep, say) leaves the stub waiting for the answer; a keeping
// recycle with nothing to unmap must still take the stub out of it, or
// the next process resumes in the old one's syscall.
func TestRecycleKeepingAfterAHeldSyscall(t *testing.T) {
	g := newNotifyGuest(t, []byte{0x0f, 0x05, 0x0f, 0x05}) // syscall; syscall
	ops := []hvf.MapOp{
		{Kind: hvf.OpMap, Addr: codeAddr, Len: pageSize, Prot: hvf.ProtRead | hvf.ProtExec, Fd: g.fd, Off: codeAddr},
		{Kind: hvf.OpMap, Addr: dataAddr, Len: stackTop - dataAddr, Prot: hvf.ProtRead | hvf.ProtWrite, Fd: g.fd, Off: dataAddr},
	}
	next := func(rax uint64) {
		t.Helper()
		if err := g.m.RecycleKeeping([]int{g.fd}); err != nil {
			t.Fatalf("RecycleKeeping: %v", err)
		}
		if g.m.nf.held {
			t.Fatal("the stub still waits for the answer to the ended process's syscall")
		}
		cpu, err := g.m.NewVCPU()
		if err != nil {
			t.Fatal(err)
		}
		g.cpu = cpu
		if _, err := g.m.Apply(ops); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		r := cpu.Regs()
		r.RIP, r.RSP, r.RFLAGS, r.RAX = codeAddr, stackTop, 0x202, rax
	}
	g.cpu.Regs().RAX = 39
	g.expectSyscall(39)
	next(102) // the stub's descriptor cache goes: a batch
	g.expectSyscall(102)
	if !g.m.nf.held {
		t.Fatal("the syscall is not held as a notification")
	}
	next(110) // nothing to unmap or close
	g.expectSyscall(110)
	if rip := g.cpu.Regs().RIP; rip != codeAddr+2 {
		t.Errorf("the third process stopped at %#x, want its first syscall's end %#x", rip, uint64(codeAddr+2))
	}
}

// TestParseMapLinesReadsRealMaps: the hand parser reads this process's
// own maps as the fields say, and refuses broken lines.
func TestParseMapLinesReadsRealMaps(t *testing.T) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps")
	}
	lines, err := parseMapLines(data)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		l := lines[want]
		want++
		var start, end, off, ma, mi, ino uint64
		if _, err := fmt.Sscanf(f[0]+" "+f[2]+" "+f[3]+" "+f[4], "%x-%x %x %x:%x %d", &start, &end, &off, &ma, &mi, &ino); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if l.start != start || l.end != end || l.off != off || uint64(l.major) != ma || uint64(l.minor) != mi ||
			l.ino != ino || l.shared != (f[1][3] == 's') || (l.prot&unix.PROT_READ != 0) != (f[1][0] == 'r') ||
			(l.prot&unix.PROT_WRITE != 0) != (f[1][1] == 'w') || (l.prot&unix.PROT_EXEC != 0) != (f[1][2] == 'x') {
			t.Errorf("%q parsed as %+v", line, l)
		}
	}
	if len(lines) != want {
		t.Fatalf("%d lines parsed, want %d", len(lines), want)
	}
	for _, bad := range []string{
		"00400000 rw-s 00001000 00:01 77 x\n",          // no end
		"00400000-0040200g rw-s 00001000 00:01 77 x\n", // not hex
		"00400000-00402000 rw- 00001000 00:01 77 x\n",  // short perms
		"00400000-00402000 rw-s 00001000 0001 77 x\n",  // no minor
		"00400000-00402000 rw-s 00001000 00:01 7a x\n", // inode not decimal
		"00400000-00402000 rw-s 00001000 00:01\n",      // no inode
	} {
		if _, err := parseMapLines([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
