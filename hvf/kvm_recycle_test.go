package hvf

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRecycleDropsEveryMappingAndKeepsTheSlots(t *testing.T) {
	m, fk := newFakeMachine(t)
	fd := patternFD(t, 2*pageSize, 0x30)
	const high = 5*chunkSize + 0x200000 // a second chunk
	for _, at := range []uint64{0x400000, high} {
		if err := m.Map(at, 2*pageSize, ProtRead|ProtWrite, fd, 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(fk.slots) != 2 {
		t.Fatalf("slots %+v, want two", fk.slots)
	}
	if err := m.Recycle(); err != nil {
		t.Fatal(err)
	}
	for _, at := range []uint64{0x400000, 0x401000, high, high + pageSize} {
		if _, ok := m.pt.walk(at); ok {
			t.Errorf("%#x still present after Recycle", at)
		}
		if got := hostBytes(t, m.hostOf(t, at), 1)[0]; got != 0 {
			t.Errorf("window at %#x still shows the old descriptor (%#x)", at, got)
		}
	}
	if len(m.regions.rs) != 0 {
		t.Errorf("regions %+v survive Recycle", m.regions.rs)
	}
	if err := m.Protect(0x400000, pageSize, ProtRead); err == nil {
		t.Error("Protect of a page of the previous process succeeded")
	}

	// The next process maps the same chunks again: no new slot, the same
	// physical addresses, the new descriptor's bytes.
	fd2 := patternFD(t, pageSize, 0x90)
	base := map[uint64]uint64{0: fk.slots[0].GuestPhysAddr, 5: fk.slots[1].GuestPhysAddr}
	for _, at := range []uint64{0x400000, high} {
		if err := m.Map(at, pageSize, ProtRead, fd2, 0); err != nil {
			t.Fatal(err)
		}
		if tr, ok := m.pt.walk(at); !ok || tr.write || tr.pa != base[at>>chunkShift]+at%chunkSize {
			t.Errorf("%#x after Recycle translates to %+v (ok=%v)", at, tr, ok)
		}
		if got := hostBytes(t, m.hostOf(t, at), 1)[0]; got != 0x90 {
			t.Errorf("window at %#x holds %#x, want 0x90", at, got)
		}
	}
	if len(fk.slots) != 2 {
		t.Errorf("Recycle made the next process add slots: %+v", fk.slots)
	}
}

func TestRecycleRefusesAMachineGrownTooLarge(t *testing.T) {
	m, _ := newFakeMachine(t)
	m.nextSlot = uint32(m.b.memslots/recycleMaxSlotShare + 1)
	if err := m.Recycle(); err == nil {
		t.Error("Recycle of a machine using most memory slots succeeded")
	}
	m2, _ := newFakeMachine(t)
	m2.sysNext = mmioPA/recycleMaxSysShare + pageSize
	if err := m2.Recycle(); err == nil {
		t.Error("Recycle of a machine with a large page-table pool succeeded")
	}
	m3, _ := newFakeMachine(t)
	m3.closed = true
	if err := m3.Recycle(); err == nil {
		t.Error("Recycle of a closed machine succeeded")
	}
}

// A real VM recycled between two processes: the second sees none of the
// first's memory, and its vCPU none of the first's state.
func TestKVMRecycledMachineRunsTheNextProcessClean(t *testing.T) {
	m, c := newTestGuest(t, g3)
	old := memfdWith(t, pageSize, nil)
	const data = 0x10000000
	if err := m.Map(data, pageSize, ProtRead|ProtWrite, old, 0); err != nil {
		t.Fatal(err)
	}
	c.Regs().RBX = data + 8
	c.SetFSBase(0x5000)
	mustRun(t, c, ExitSyscall)

	r, ok := m.(interface{ Recycle() error })
	if !ok {
		t.Fatal("the KVM machine has no Recycle")
	}
	if err := r.Recycle(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(); err == nil {
		t.Error("the previous process's vCPU still runs after Recycle")
	}

	// Nothing mapped: the next process's first fetch faults.
	c2, err := m.NewVCPU()
	if err != nil {
		t.Fatal(err)
	}
	if c2.FSBase() != 0 {
		t.Errorf("recycled vCPU kept FS base %#x", c2.FSBase())
	}
	regs := c2.Regs()
	regs.RIP, regs.RSP, regs.RFLAGS = g3, stackBase+0x800, 0x202
	exit := mustRun(t, c2, ExitException)
	if exit.Vector != VectorPF || exit.FaultAddr != g3 || exit.ErrorCode&PFPresent != 0 {
		t.Fatalf("fetch from the previous process's code: exit %+v", exit)
	}

	// Its own memory at the same addresses works, and the previous
	// process's descriptor is never written again.
	if err := m.Map(codeBase, pageSize, ProtRead|ProtExec, memfdWith(t, pageSize, guestCode), 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(stackBase, stackSize, ProtRead|ProtWrite, memfdWith(t, stackSize, nil), 0); err != nil {
		t.Fatal(err)
	}
	fresh := memfdWith(t, pageSize, nil)
	if err := m.Map(data, pageSize, ProtRead|ProtWrite, fresh, 0); err != nil {
		t.Fatal(err)
	}
	regs.RIP, regs.RBX = g3, data+16
	mustRun(t, c2, ExitSyscall)
	var b [8]byte
	if _, err := unix.Pread(fresh, b[:], 16); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(b[:]) != 1 {
		t.Errorf("the store of the next process did not reach its memory: %x", b)
	}
	if _, err := unix.Pread(old, b[:], 16); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(b[:]) != 0 {
		t.Errorf("the next process wrote the previous one's memory: %x", b)
	}
}
