package ptrace

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

func TestBatchGadgetRunsEveryEntryAndStoresItsResult(t *testing.T) {
	g := newGuest(t, nil)
	ents := []batchEntry{
		{nr: unix.SYS_GETPID},
		{nr: unix.SYS_GETPPID},
		{nr: unix.SYS_DUP, args: [6]uint64{0}},
		{nr: unix.SYS_FCNTL, args: [6]uint64{0, unix.F_GETFD}},
		{nr: unix.SYS_CLOSE},
	}
	ents[3].linkArg(0, 2) // fcntl(<the dup>, F_GETFD)
	ents[4].linkArg(0, 2) // close(<the dup>)
	ran, err := g.m.runBatch(ents, nil, true)
	if err != nil {
		t.Fatalf("runBatch: %v", err)
	}
	if ran != len(ents) {
		t.Fatalf("ran %d entries, want %d", ran, len(ents))
	}
	if got := int(ents[0].ret); got != g.m.pid {
		t.Errorf("getpid in the stub = %d, want the stub's pid %d", got, g.m.pid)
	}
	if got := int(ents[1].ret); got != os.Getpid() {
		t.Errorf("getppid in the stub = %d, want the tracer's pid %d", got, os.Getpid())
	}
	dup := ents[2].ret
	if failed(dup) || dup == 0 {
		t.Fatalf("dup(0) in the stub = %d", int64(dup))
	}
	if ents[3].ret != 0 {
		t.Errorf("fcntl(F_GETFD) of the linked dup = %d, want 0 (dup clears FD_CLOEXEC)", int64(ents[3].ret))
	}
	if ents[4].ret != 0 {
		t.Errorf("close of the linked dup = %d, want 0", int64(ents[4].ret))
	}
	if _, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", g.m.pid, dup)); err == nil {
		t.Errorf("stub descriptor %d is still open: the close did not get the linked argument", dup)
	}
	// The guest runs on afterwards with its own registers.
	var a asm
	a.movEAX(39).syscall()
	copy(g.mem[codeAddr:], a.b)
	g.expectSyscall(39)
}

func TestBatchStopsAtTheFirstFailingEntry(t *testing.T) {
	g := newGuest(t, nil)
	mk := func() []batchEntry {
		return []batchEntry{
			{nr: unix.SYS_GETPID},
			{nr: unix.SYS_CLOSE, args: [6]uint64{9999}},
			{nr: unix.SYS_GETPPID},
		}
	}
	ents := mk()
	ran, err := g.m.runBatch(ents, nil, true)
	if err != nil {
		t.Fatalf("runBatch: %v", err)
	}
	if ran != 2 {
		t.Fatalf("ran %d entries, want 2 (stop after the failing close)", ran)
	}
	if !failed(ents[1].ret) || errnoOf(ents[1].ret) != unix.EBADF {
		t.Errorf("close(9999) = %d, want -EBADF", int64(ents[1].ret))
	}
	if ents[2].ret != 0 {
		t.Errorf("entry after the failure has result %d: it ran", ents[2].ret)
	}
	ents = mk()
	if ran, err = g.m.runBatch(ents, nil, false); err != nil || ran != 3 {
		t.Fatalf("runBatch without stopping = %d, %v; want 3 entries run", ran, err)
	}
	if int(ents[2].ret) != os.Getpid() {
		t.Errorf("getppid after a failure = %d, want %d", int64(ents[2].ret), os.Getpid())
	}
}

func TestBatchGadgetFaultIsAnErrorAndTheStubLivesOn(t *testing.T) {
	var a asm
	a.movEAX(39).syscall()
	g := newGuest(t, a.b)
	ents := []batchEntry{{nr: unix.SYS_GETPID}, {nr: unix.SYS_GETPID}}
	// A link to an entry far beyond the table makes the gadget read
	// unmapped memory.
	ents[1].link = 1<<40 | 1
	ran, err := g.m.runBatch(ents, nil, true)
	if err == nil || !strings.Contains(err.Error(), "faulted") {
		t.Fatalf("runBatch with a bad link = %v, want a fault", err)
	}
	if ran != 1 {
		t.Errorf("ran = %d before the fault, want 1", ran)
	}
	// Later operations and the guest still work.
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
		t.Fatalf("Map after a gadget fault: %v", err)
	}
	g.expectSyscall(39)
}

// stubMapping returns the /proc/PID/maps line of the stub starting at addr,
// or "".
func stubMapping(t *testing.T, pid int, addr uint64) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, fmt.Sprintf("%08x-", addr)) {
			return line
		}
	}
	return ""
}

func newMemfd(t *testing.T, name string) int {
	t.Helper()
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, 4*pageSize); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestApplyMapsNewFilesInOneBatch(t *testing.T) {
	for _, viaSocket := range []bool{false, true} {
		t.Run(fmt.Sprint("socket=", viaSocket), func(t *testing.T) {
			g := newGuest(t, nil)
			g.m.noProcReopen = viaSocket
			var ops []hvf.MapOp
			names := []string{"batch-a", "batch-b", "batch-c"}
			for i, n := range names {
				fd := newMemfd(t, n)
				addr := extraAddr + uint64(i)*2*pageSize
				ops = append(ops, hvf.MapOp{Kind: hvf.OpMap, Addr: addr, Len: 2 * pageSize, Prot: hvf.ProtRead, Fd: fd, Off: pageSize})
			}
			ops = append(ops, hvf.MapOp{Kind: hvf.OpProtect, Addr: extraAddr, Len: pageSize, Prot: hvf.ProtRead | hvf.ProtWrite})
			done, err := g.m.Apply(ops)
			if err != nil || done != len(ops) {
				t.Fatalf("Apply = %d, %v; want %d, nil", done, err, len(ops))
			}
			for i, n := range names {
				addr := extraAddr + uint64(i)*2*pageSize
				line := stubMapping(t, g.m.pid, addr)
				if !strings.Contains(line, "memfd:"+n) || !strings.Contains(line, " 00001000 ") {
					t.Errorf("stub mapping at %#x = %q, want memfd:%s at offset 0x1000", addr, line, n)
				}
			}
			if line := stubMapping(t, g.m.pid, extraAddr); !strings.HasPrefix(strings.Fields(line + " x")[1], "rw") {
				t.Errorf("mapping at %#x after the batch's mprotect = %q, want rw", uint64(extraAddr), line)
			}
			// Each file came into the stub once.
			if got := len(g.m.files.fds); got != len(names)+1 {
				t.Errorf("stub caches %d files, want %d", got, len(names)+1)
			}
		})
	}
}

func TestApplyReportsTheFailingOpAndKeepsTheEarlierOnes(t *testing.T) {
	g := newGuest(t, nil)
	fd := newMemfd(t, "batch-ok")
	late := newMemfd(t, "batch-late")
	const hole = extraAddr + 0x100000
	ops := []hvf.MapOp{
		{Kind: hvf.OpMap, Addr: extraAddr, Len: pageSize, Prot: hvf.ProtRead, Fd: fd},
		{Kind: hvf.OpUnmap, Addr: extraAddr + pageSize, Len: pageSize},
		// mprotect of a range nothing maps fails with ENOMEM.
		{Kind: hvf.OpProtect, Addr: hole, Len: pageSize, Prot: hvf.ProtRead},
		{Kind: hvf.OpMap, Addr: extraAddr + 2*pageSize, Len: pageSize, Prot: hvf.ProtRead, Fd: late},
	}
	done, err := g.m.Apply(ops)
	if done != 2 || !errors.Is(err, unix.ENOMEM) || !strings.Contains(err.Error(), fmt.Sprintf("%#x", uint64(hole))) {
		t.Fatalf("Apply = %d, %v; want 2 done and ENOMEM naming %#x", done, err, uint64(hole))
	}
	if line := stubMapping(t, g.m.pid, extraAddr); !strings.Contains(line, "memfd:batch-ok") {
		t.Errorf("op before the failure did not stand: mapping %q", line)
	}
	if line := stubMapping(t, g.m.pid, extraAddr+2*pageSize); line != "" {
		t.Errorf("op after the failure ran: mapping %q", line)
	}
	// The file of the op that never ran was not left open in the stub.
	for k := range g.m.files.fds {
		var st unix.Stat_t
		unix.Fstat(late, &st)
		if k.ino == st.Ino && k.dev == st.Dev {
			t.Error("the stub caches the file of an op that never ran")
		}
	}

	// A refused op (bad descriptor) before any syscall: the ops before
	// it run, and none after.
	ops = []hvf.MapOp{
		{Kind: hvf.OpUnmap, Addr: extraAddr, Len: pageSize},
		{Kind: hvf.OpMap, Addr: extraAddr, Len: pageSize, Prot: hvf.ProtRead, Fd: 9999},
		{Kind: hvf.OpMap, Addr: extraAddr + 2*pageSize, Len: pageSize, Prot: hvf.ProtRead, Fd: late},
	}
	done, err = g.m.Apply(ops)
	if done != 1 || !errors.Is(err, unix.EBADF) {
		t.Fatalf("Apply with a bad descriptor = %d, %v; want 1 done and EBADF", done, err)
	}
	if line := stubMapping(t, g.m.pid, extraAddr); line != "" {
		t.Errorf("unmap before the refused op did not run: mapping %q", line)
	}
	if line := stubMapping(t, g.m.pid, extraAddr+2*pageSize); line != "" {
		t.Errorf("op after the refused one ran: mapping %q", line)
	}
}

func TestApplyOfManyFilesKeepsTheCacheBounded(t *testing.T) {
	g := newGuest(t, nil)
	var ops []hvf.MapOp
	const n = maxStubFiles + 5
	for i := range n {
		fd := newMemfd(t, fmt.Sprintf("many-%d", i))
		ops = append(ops, hvf.MapOp{Kind: hvf.OpMap, Addr: extraAddr + uint64(i)*pageSize, Len: pageSize, Prot: hvf.ProtRead, Fd: fd})
	}
	if done, err := g.m.Apply(ops); err != nil || done != n {
		t.Fatalf("Apply = %d, %v", done, err)
	}
	for i := range n {
		addr := extraAddr + uint64(i)*pageSize
		if line := stubMapping(t, g.m.pid, addr); !strings.Contains(line, fmt.Sprintf("memfd:many-%d ", i)) {
			t.Errorf("mapping at %#x = %q, want memfd:many-%d", addr, line, i)
		}
	}
	ents, err := readDirNames("/proc/" + itoa(g.m.pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > maxStubFiles+1 || len(ents) != len(g.m.files.fds)+1 {
		t.Errorf("stub holds %d descriptors, cache %d: want at most %d files and the socket, all cached",
			len(ents), len(g.m.files.fds), maxStubFiles)
	}
}

func TestApplyFallbackLoopForOtherMachines(t *testing.T) {
	// hvf.Apply on a Machine without Batcher runs one call per op and
	// stops at the first failure.
	g := newGuest(t, nil)
	only := struct{ hvf.Machine }{g.m} // hides Apply
	ops := []hvf.MapOp{
		{Kind: hvf.OpMap, Addr: extraAddr, Len: pageSize, Prot: hvf.ProtRead, Fd: g.fd, Off: extraAddr},
		{Kind: hvf.OpProtect, Addr: extraAddr + 0x100000, Len: pageSize, Prot: hvf.ProtRead},
		{Kind: hvf.OpUnmap, Addr: extraAddr, Len: pageSize},
	}
	done, err := hvf.Apply(only, ops)
	if done != 1 || !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("hvf.Apply = %d, %v; want 1 and ENOMEM", done, err)
	}
	if stubMapping(t, g.m.pid, extraAddr) == "" {
		t.Error("the first op's mapping is missing, or the op after the failure ran")
	}
}

func TestApplyLongerThanOneTableRunsInSeveralBatches(t *testing.T) {
	g := newGuest(t, nil)
	const n = 3*batchMax + 8 // even: op n-1 is odd
	var ops []hvf.MapOp
	for i := range n {
		prot := hvf.ProtRead
		if i%2 == 1 {
			prot |= hvf.ProtWrite
		}
		ops = append(ops, hvf.MapOp{Kind: hvf.OpProtect, Addr: dataAddr, Len: pageSize, Prot: prot})
	}
	// The last op fails: it reports its own index.
	ops = append(ops, hvf.MapOp{Kind: hvf.OpProtect, Addr: extraAddr + 0x100000, Len: pageSize, Prot: hvf.ProtRead})
	before := g.m.gadgetRuns
	done, err := g.m.Apply(ops)
	if done != n || !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("Apply = %d, %v; want %d and ENOMEM", done, err, n)
	}
	if runs := g.m.gadgetRuns - before; runs < 4 || runs > 5 {
		t.Errorf("%d ops took %d round trips, want 4 or 5", len(ops), runs)
	}
	// The last successful op (n-1, odd) left the page writable.
	if line := stubMapping(t, g.m.pid, dataAddr); !strings.HasPrefix(strings.Fields(line + " x")[1], "rw") {
		t.Errorf("mapping at %#x = %q, want rw after the last protect", uint64(dataAddr), line)
	}
}

func TestStartedBatchIsCollectedByTheNextOperation(t *testing.T) {
	var a asm
	a.movEAX(39).syscall()
	g := newGuest(t, a.b)
	ents := []batchEntry{
		{nr: unix.SYS_MUNMAP, args: [6]uint64{extraAddr, pageSize}},
		{nr: unix.SYS_CLOSE, args: [6]uint64{9999}},
		{nr: unix.SYS_GETPID},
	}
	if err := g.m.startBatch(ents, "test batch"); err != nil {
		t.Fatalf("startBatch: %v", err)
	}
	// The next operation waits for the batch and reports its failure.
	err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr)
	if !errors.Is(err, unix.EBADF) || !strings.Contains(err.Error(), "test batch") {
		t.Fatalf("Map after a failing started batch = %v, want its EBADF", err)
	}
	// Reported once: the machine works on.
	if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
		t.Fatalf("second Map: %v", err)
	}
	if stubMapping(t, g.m.pid, extraAddr) == "" {
		t.Error("no mapping after the second Map")
	}
	// A successful started batch is collected by Run, which then runs the
	// guest.
	if err := g.m.startBatch([]batchEntry{{nr: unix.SYS_GETPID}}, "getpid"); err != nil {
		t.Fatal(err)
	}
	g.expectSyscall(39)
	if g.m.pending != nil {
		t.Error("Run left the started batch pending")
	}
}

// Ops naming one descriptor many times (an address space on one RAM
// memfd) plan one look at it, and every op maps the same file.
func TestApplyLooksAtARepeatedDescriptorOnce(t *testing.T) {
	g := newGuest(t, nil)
	fd := newMemfd(t, "batch-ram")
	var ops []hvf.MapOp
	for i := range 4 {
		addr := extraAddr + uint64(i)*2*pageSize
		ops = append(ops, hvf.MapOp{Kind: hvf.OpMap, Addr: addr, Len: pageSize, Prot: hvf.ProtRead, Fd: fd, Off: int64(addr)})
	}
	p := &batchPlan{pending: map[fileKey]int{}}
	if n, err := g.m.plan(p, ops); err != nil || n != len(ops) {
		t.Fatalf("plan = %d, %v; want %d, nil", n, err, len(ops))
	}
	if len(p.keys) != 1 {
		t.Errorf("plan looked at %d descriptors, want 1", len(p.keys))
	}
	g.m.forgetPlanned(p, 0) // not run: its maps leave the layout (layout.go)
	g.m.settle(p, 0)
	done, err := g.m.Apply(ops)
	if err != nil || done != len(ops) {
		t.Fatalf("Apply = %d, %v; want %d, nil", done, err, len(ops))
	}
	for _, op := range ops {
		if line := stubMapping(t, g.m.pid, op.Addr); !strings.Contains(line, "memfd:batch-ram") {
			t.Errorf("stub mapping at %#x = %q, want memfd:batch-ram", op.Addr, line)
		}
	}
}
