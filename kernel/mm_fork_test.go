package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestSnapshotRebuildsTheAddressSpaceForFork(t *testing.T) {
	parent, _ := newTestMM(t)
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, bytes.Repeat([]byte("file"), pg), 0o644)
	f, _ := os.Open(path)
	defer f.Close()

	priv := mustMmap(t, parent, 0x1000000, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, priv+pg, pg, 0x11) // one populated page of four
	shared := mustMmap(t, parent, 0x2000000, 2*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS|abi.MAP_FIXED)
	fill(t, parent, shared, pg, 0x22)
	file, err := parent.Mmap(0x3000000, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE|abi.MAP_FIXED, int(f.Fd()), 0)
	if err != nil {
		t.Fatal(err)
	}
	wipe := mustMmap(t, parent, 0x4000000, pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, wipe, pg, 0x33)
	parent.Madvise(wipe, pg, abi.MADV_WIPEONFORK)
	gone := mustMmap(t, parent, 0x5000000, pg, rw, anon|abi.MAP_FIXED)
	parent.Madvise(gone, pg, abi.MADV_DONTFORK)
	mustMmap(t, parent, 0, 16<<30, abi.PROT_NONE, anon|abi.MAP_NORESERVE)
	parent.SetBrkStart(0x800000)
	parent.SetBrk(0x800000 + 100)

	snap, err := parent.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(snap.RAM, &st)
	if st.Blocks*512 > 64<<10 {
		t.Fatalf("snapshot holds %d bytes: it should copy only populated pages", st.Blocks*512)
	}
	fm := &fakeMachine{}
	child, err := NewMMFromSnapshot(fm, testLimit, snap)
	if err != nil {
		unix.Close(snap.RAM)
		t.Fatal(err)
	}
	defer child.Close()
	checkMachine(t, child, fm)

	expectBytes(t, child, priv, append(append(make([]byte, pg), bytes.Repeat([]byte{0x11}, pg)...), make([]byte, 2*pg)...))
	expectBytes(t, child, file, bytes.Repeat([]byte("file"), 2*pg/4))
	expectBytes(t, child, wipe, make([]byte, pg))
	if _, ok := child.Lookup(gone); ok {
		t.Fatal("MADV_DONTFORK region reached the child")
	}
	if child.Brk() != 0x800000+100 {
		t.Fatalf("child brk %#x", uint64(child.Brk()))
	}
	// Private memory is the child's own; shared memory stays shared.
	fill(t, parent, priv+pg, 1, 0x99)
	expectBytes(t, child, priv+pg, []byte{0x11})
	fill(t, child, shared+10, 1, 0x77)
	expectBytes(t, parent, shared+10, []byte{0x77})
	if len(child.Maps()) != len(parent.Maps())-1 {
		t.Fatalf("child has %d regions, parent %d (one DONTFORK)", len(child.Maps()), len(parent.Maps()))
	}
	// The parent's descriptors stay the parent's.
	pm := parent.Maps()
	for _, mi := range child.Maps() {
		for _, p := range pm {
			if mi.Fd >= 0 && mi.Fd == p.Fd {
				t.Fatalf("child shares descriptor %d with the parent instead of its own dup", mi.Fd)
			}
		}
	}
}

func TestSnapshotRegionsAreValidated(t *testing.T) {
	ram, err := newRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ram)
	tests := []struct {
		name    string
		regions []MapInfo
	}{
		{"unaligned", []MapInfo{{Start: 0x10001, End: 0x20000, Fd: -1}}},
		{"overlapping", []MapInfo{{Start: 0x10000, End: 0x30000, Fd: -1}, {Start: 0x20000, End: 0x40000, Fd: -1}}},
		{"past the limit", []MapInfo{{Start: testLimit - pg, End: testLimit + pg, Fd: -1}}},
		{"shared without a descriptor", []MapInfo{{Start: 0x10000, End: 0x20000, Shared: true, Fd: -1}}},
		{"bad descriptor", []MapInfo{{Start: 0x10000, End: 0x20000, Shared: true, Fd: 1 << 20}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewMMFromSnapshot(&fakeMachine{}, testLimit, &Snapshot{RAM: ram, Regions: tt.regions}); err == nil {
				t.Fatal("accepted")
			}
			if _, err := unix.FcntlInt(uintptr(ram), unix.F_GETFD, 0); err != nil {
				t.Fatal("a failed rebuild closed the caller's RAM memfd")
			}
		})
	}
}

func TestVforkChildBorrowsTheParentsMemory(t *testing.T) {
	parent, _ := newTestMM(t)
	a := mustMmap(t, parent, 0x1000000, 2*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, a, 2*pg, 0x44)
	dontfork := mustMmap(t, parent, 0x2000000, pg, rw, anon|abi.MAP_FIXED)
	parent.Madvise(dontfork, pg, abi.MADV_DONTFORK)
	share := parent.Share()
	ram, err := unix.Dup(share.RAM) // what SCM_RIGHTS would deliver
	if err != nil {
		t.Fatal(err)
	}
	share.RAM = ram
	fm := &fakeMachine{}
	child, err := NewMMBorrowed(fm, testLimit, share)
	if err != nil {
		t.Fatal(err)
	}
	checkMachine(t, child, fm)
	if _, ok := child.Lookup(dontfork); !ok {
		t.Fatal("a vfork child lacks a MADV_DONTFORK region (CLONE_VM shares everything)")
	}
	// The child's writes are the parent's.
	fill(t, child, a, 1, 0x55)
	expectBytes(t, parent, a, []byte{0x55})
	// munmap, DONTNEED and exec in the child leave the parent's memory.
	if err := child.Madvise(a, pg, abi.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if err := child.Munmap(a+pg, pg); err != nil {
		t.Fatal(err)
	}
	if err := child.Release(); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, parent, a, append([]byte{0x55}, bytes.Repeat([]byte{0x44}, 2*pg-1)...))
}

// A fork child copies the parent's memory into its own RAM (ForkLayout,
// ChildRAM.CopyFrom, NewMMInto): the populated private pages only, as
// they were at the copy; a kept RAM that held another process shows none
// of it.
func TestChildRAMCopiesTheForkLayout(t *testing.T) {
	parent, _ := newTestMM(t)
	priv := mustMmap(t, parent, 0x1000000, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, priv+pg, 2*pg, 0x11) // two populated pages of four
	shared := mustMmap(t, parent, 0x2000000, pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS|abi.MAP_FIXED)
	fill(t, parent, shared, pg, 0x22)

	// A RAM kept from an earlier process, which wrote where the parent
	// has a hole.
	old, _ := newTestMM(t)
	o := mustMmap(t, old, priv, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, old, o, 4*pg, 0x55)
	ram := old.keepRAM()
	if ram == nil {
		t.Fatal("keepRAM kept nothing")
	}
	ram.limit = testLimit

	snap := parent.ForkLayout()
	if snap.RAM != parent.ramfd || snap.Copied != 2*pg || len(snap.Extents) != 1 {
		t.Fatalf("layout RAM %d (parent's %d), copied %d, extents %v", snap.RAM, parent.ramfd, snap.Copied, snap.Extents)
	}
	if err := ram.CopyFrom(snap.RAM, snap.Extents, ForkWrites{}); err != nil {
		t.Fatal(err)
	}
	fill(t, parent, priv+pg, 1, 0x33) // after the copy: the child's does not have it
	fm := &fakeMachine{}
	child, err := NewMMInto(fm, testLimit, snap, ram)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	checkMachine(t, child, fm)
	want := append(append(make([]byte, pg), bytes.Repeat([]byte{0x11}, 2*pg)...), make([]byte, pg)...)
	view, err := child.Slice(priv, 4*pg, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(view, want) {
		t.Fatalf("child memory %x..., want the parent's at the copy", view[pg:pg+8])
	}
	expectBytes(t, child, shared, bytes.Repeat([]byte{0x22}, pg))
	fill(t, child, shared, 1, 0x77)
	expectBytes(t, parent, shared, []byte{0x77})
}

// NewMMInto takes its RAM also when it fails.
func TestNewMMIntoTakesTheRAM(t *testing.T) {
	ram, err := NewChildRAM(testLimit)
	if err != nil {
		t.Fatal(err)
	}
	fd := ram.fd
	bad := &Snapshot{Regions: []MapInfo{{Start: 1, End: 2}}}
	if _, err := NewMMInto(&fakeMachine{}, testLimit, bad, ram); err == nil {
		t.Fatal("a bad region table was accepted")
	}
	if ram.fd != -1 {
		t.Fatal("RAM not taken")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
		t.Fatal("RAM memfd left open")
	}
}
