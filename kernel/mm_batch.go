package kernel

import (
	"fmt"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// machineQueue is an hvf.Machine whose Map, Protect and Unmap only record
// the call, for a burst of memory operations the guest cannot observe one
// by one (building a fork child's address space, exec's teardown and
// load): flush runs them all, in order, with hvf.Apply, one round trip to
// the stub on the ptrace backend instead of one per call. Guest memory is
// reached through the MM's host window meanwhile, never through the
// Machine, so nothing reads the Machine's state before the flush.
//
// Every other method is the real Machine's.
type machineQueue struct {
	hvf.Machine
	ops []hvf.MapOp
	// backs are references on the backings whose descriptors queued Maps
	// name (see hold), dropped at the flush.
	backs []*backing
}

func newMachineQueue(m hvf.Machine) *machineQueue { return &machineQueue{Machine: m} }

// Map records a Machine.Map. The caller keeps fd open until the flush:
// the MM's RAM memfd lives as long as the MM, and machineMap holds a
// reference on any other backing.
func (q *machineQueue) Map(addr, length uint64, prot hvf.Prot, fd int, off int64) error {
	q.ops = append(q.ops, hvf.MapOp{Kind: hvf.OpMap, Addr: addr, Len: length, Prot: prot, Fd: fd, Off: off})
	return nil
}

// hold keeps b's descriptor open until the flush: a queued Map names it,
// and the VMA holding b may go before the flush (an mmap(MAP_FIXED) over
// it, whose own Map is queued after).
func (q *machineQueue) hold(b *backing) {
	q.backs = append(q.backs, b.acquire())
}

// drop releases the references hold took.
func (q *machineQueue) drop() {
	for _, b := range q.backs {
		b.release()
	}
	q.backs = nil
}

// Protect records a Machine.Protect.
func (q *machineQueue) Protect(addr, length uint64, prot hvf.Prot) error {
	q.ops = append(q.ops, hvf.MapOp{Kind: hvf.OpProtect, Addr: addr, Len: length, Prot: prot})
	return nil
}

// Unmap records a Machine.Unmap.
func (q *machineQueue) Unmap(addr, length uint64) error {
	q.ops = append(q.ops, hvf.MapOp{Kind: hvf.OpUnmap, Addr: addr, Len: length})
	return nil
}

// GuestTSCIsHost answers for the real Machine (see vclock).
func (q *machineQueue) GuestTSCIsHost() bool {
	h, ok := q.Machine.(hostTSCMachine)
	return ok && h.GuestTSCIsHost()
}

// flush runs the recorded operations on the real Machine and forgets them.
// On failure the operations before the failing one stand and the others
// never ran; the error names the failing one.
func (q *machineQueue) flush() error {
	ops := q.ops
	q.ops = nil
	_, err := hvf.Apply(q.Machine, ops)
	q.drop()
	if err != nil {
		return fmt.Errorf("mm: machine: %v: %w", err, abi.ENOMEM)
	}
	return nil
}

// discard forgets the recorded operations without running them.
func (q *machineQueue) discard() {
	q.ops = nil
	q.drop()
}

// setMachine points m at another Machine (a machineQueue, or back at the
// real Machine behind it).
func (m *MM) setMachine(machine hvf.Machine) {
	m.mu.Lock()
	m.machine = machine
	m.mu.Unlock()
}
