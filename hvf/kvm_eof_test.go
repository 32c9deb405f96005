package hvf

import "testing"

// A store to a file mapping's page past the end of the file is a #PF at
// its address (kvm_eof.go), not a KVM_RUN failure; the page before it,
// inside the file, takes the store.
func TestKVMGuestFilePagePastEOFFaults(t *testing.T) {
	m, c := newTestGuest(t, g3)
	const data = 0x50000000
	if err := m.Map(data, 2*pageSize, ProtRead|ProtWrite, memfdWith(t, pageSize, nil), 0); err != nil {
		t.Fatal(err)
	}
	c.Regs().RBX = data
	mustRun(t, c, ExitSyscall)
	r := c.Regs()
	r.RIP, r.RBX = g3, data+pageSize
	exit := mustRun(t, c, ExitException)
	if exit.Vector != VectorPF || exit.FaultAddr != data+pageSize || exit.ErrorCode&PFWrite == 0 {
		t.Fatalf("store past EOF: exit %+v, want a write #PF at %#x", exit, uint64(data+pageSize))
	}
	// The page inside the file still works.
	r.RIP, r.RBX = g3, data+8
	mustRun(t, c, ExitSyscall)
}
