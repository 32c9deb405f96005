package ptrace

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Batched syscalls in the stub.
//
// Each injected syscall costs a SETREGS, a CONT, a wait4 and a GETREGS: four
// ptrace round trips and two context switches. The batch gadget (stub.go)
// runs a table of syscalls the tracer writes into the stub's batch table
// (through its own mapping, stubdata.go), so N calls cost one such round;
// the results come back in the out-area.
//
// An entry may take one argument from the result of an earlier entry of the
// same batch (its link word): a descriptor opened by an openat of the batch
// is passed to the mmap that needs it without a round trip in between.

// batchEntry is one syscall of a batch.
type batchEntry struct {
	nr   uint64
	args [6]uint64
	// link, when nonzero, replaces argument arg (0-5) by the result of
	// entry src (which must come earlier): see linkArg.
	link uint64
	// ret is the result once the entry has run.
	ret uint64
}

// linkArg makes e take argument arg (0-5) from the result of entry src.
func (e *batchEntry) linkArg(arg, src int) {
	e.link = uint64(src)<<8 | uint64(arg+1)
}

// failed reports whether a result is an error (-4095..-1).
func failed(ret uint64) bool { return int64(ret) < 0 && int64(ret) >= -4095 }

// errnoOf returns the error a failed result stands for.
func errnoOf(ret uint64) unix.Errno { return unix.Errno(-ret) }

// runBatch runs ents in the stub, in order, and stores each result in its
// ret. With stopOnError it stops after the first entry that fails. It
// returns how many entries ran (the failing one included). strs, when not
// empty, is copied to batchStrings first (paths the entries point at). An
// error means the gadget did not complete (the stub faulted or died); ran
// is then what the stub's registers say, as far as they could be read.
func (m *machine) runBatch(ents []batchEntry, strs []byte, stopOnError bool) (ran int, err error) {
	if len(ents) == 0 {
		return 0, nil
	}
	if len(ents) > batchMax || len(strs) > pageSize {
		return 0, fmt.Errorf("ptrace: batch of %d entries and %d string bytes is too large", len(ents), len(strs))
	}
	if m.helperUsable(ents) {
		return m.helperBatch(ents, strs, stopOnError) // helper.go
	}
	if len(ents) == 1 && ents[0].link == 0 {
		// One plain syscall: the syscall gadget needs no table.
		return m.runOne(&ents[0])
	}
	table := make([]byte, len(ents)*batchEntrySize)
	le := binary.LittleEndian
	r, err := m.loadBatch(ents, table, strs, stopOnError)
	if err != nil {
		return 0, err
	}
	gerr := m.runGadget(&r, batchTrapRIP, fmt.Sprintf("batch of %d syscalls", len(ents)))
	// RBX points past the last entry that ran (also at a fault, whose
	// registers runGadget leaves in r when it could read them).
	if r.Rbx >= batchTable && r.Rbx <= batchTable+uint64(len(ents))*batchEntrySize {
		ran = int((r.Rbx - batchTable) / batchEntrySize)
	}
	if gerr != nil {
		return ran, gerr
	}
	switch {
	case ran == 1:
		ents[0].ret = r.Rax
	case ran > 1:
		// The last result is in RAX; the others are read back.
		res := table[:ran*8]
		if err := m.readStub(batchResults, res); err != nil {
			return ran, err
		}
		for i := range ran - 1 {
			ents[i].ret = le.Uint64(res[i*8:])
		}
		ents[ran-1].ret = r.Rax
	}
	return ran, nil
}

// runOne runs a single entry with the syscall gadget (no table to write or
// read back).
func (m *machine) runOne(e *batchEntry) (int, error) {
	if one := []batchEntry{*e}; m.helperUsable(one) {
		n, err := m.helperBatch(one, nil, true) // helper.go
		e.ret = one[0].ret
		return n, err
	}
	r := m.host
	r.Rip = gadgetAddr
	r.Rax = e.nr
	r.Orig_rax = ^uint64(0)
	a := &e.args
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := m.runGadget(&r, gadgetTrapRIP, fmt.Sprintf("syscall %d", e.nr)); err != nil {
		return 0, err
	}
	e.ret = r.Rax
	return 1, nil
}

// encodeBatch writes ents into table as the batch gadget and the helper
// thread read them.
func encodeBatch(table []byte, ents []batchEntry) {
	le := binary.LittleEndian
	for i := range ents {
		e := table[i*batchEntrySize:]
		le.PutUint64(e[0:], ents[i].nr)
		for j, a := range ents[i].args {
			le.PutUint64(e[8+8*j:], a)
		}
		le.PutUint64(e[56:], ents[i].link)
	}
}

// loadBatch writes ents (serialised into table) and strs into the stub and
// returns the registers that run them with the batch gadget.
func (m *machine) loadBatch(ents []batchEntry, table, strs []byte, stopOnError bool) (unix.PtraceRegs, error) {
	encodeBatch(table, ents)
	if len(strs) > 0 {
		if err := m.writeStub(batchStrings, strs); err != nil {
			return unix.PtraceRegs{}, err
		}
	}
	if err := m.writeStub(batchTable, table); err != nil {
		return unix.PtraceRegs{}, err
	}
	r := m.host
	r.Rip = batchAddr
	r.Rbx = batchTable
	r.R13, r.R14 = batchResults, batchResults
	r.Rbp = uint64(len(ents))
	r.R12 = 0
	if stopOnError {
		r.R12 = 1
	}
	r.Orig_rax = ^uint64(0)
	return r, nil
}

// pendingBatch is a batch the stub runs on its own while the tracer goes
// on (startBatch); the next request to the stub collects it (sync).
type pendingBatch struct {
	regs unix.PtraceRegs
	n    int
	what string
}

// startBatch starts ents (plain entries, no links needed back) in the stub,
// stopping at the first error, and returns without waiting: the stub's
// work overlaps the caller's. The next operation on the machine collects
// the batch first and fails with its error, if any.
func (m *machine) startBatch(ents []batchEntry, what string) error {
	if err := m.sync(); err != nil {
		return err
	}
	r, err := m.loadBatch(ents, make([]byte, len(ents)*batchEntrySize), nil, true)
	if err != nil {
		return err
	}
	if err := m.startGadget(&r, what); err != nil {
		return err
	}
	m.pending = &pendingBatch{regs: r, n: len(ents), what: what}
	return nil
}

// sync makes the stub stopped: it waits for a batch started by
// startBatch to end (an entry that failed is an error, reported once) and
// halts a stub waiting for the answer to a notification (notify.go).
func (m *machine) sync() error {
	if err := m.syncBatch(); err != nil {
		return err
	}
	if m.nf.held && m.vcpu != nil {
		return m.vcpu.settle()
	}
	return nil
}

// syncBatch waits for a batch started by startBatch to end.
func (m *machine) syncBatch() error {
	p := m.pending
	if p == nil {
		return nil
	}
	m.pending = nil
	r := p.regs
	if err := m.finishGadget(&r, batchTrapRIP, p.what); err != nil {
		return err
	}
	ran := 0
	if r.Rbx >= batchTable {
		ran = int((r.Rbx - batchTable) / batchEntrySize)
	}
	if ran < p.n || failed(r.Rax) {
		return fmt.Errorf("ptrace: %s: entry %d of %d failed: %w", p.what, ran-1, p.n, errnoOf(r.Rax))
	}
	return nil
}
