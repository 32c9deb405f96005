package ptrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Prefaulting pages the guest is certain to touch at once.
//
// A page the stub touches first costs a page fault, 8-14 us in the VMs this
// backend runs in; a page populated ahead by madvise(MADV_POPULATE_*) costs
// ~0.4 us to populate and ~3.5 us at its first touch (the hypervisor's
// shadow page tables still fill lazily). The kernel hints the few pages a
// new image touches before its first syscall (the top of the stack, a small
// program's .data and .bss) while it queues exec's maps; the hints ride at
// the end of the batch that makes those maps, so they cost no round trip.

// MADV_POPULATE_READ and MADV_POPULATE_WRITE (Linux 5.14).
const (
	madvPopulateRead  = 22
	madvPopulateWrite = 23
)

// maxPrefaultPages bounds the pages one Apply prefaults: hints are for a
// handful of pages, never for whole large regions.
const maxPrefaultPages = 64

// prefaultHint is a range to populate after the next Apply's maps.
type prefaultHint struct {
	addr, len uint64
	write     bool
}

// PrefaultHint asks that guest pages [addr, addr+length) be populated in
// the stub right after the maps of the next Apply, in the same batch, for
// writing (write) or reading. It is a hint: a range that is not mapped
// then, or a kernel without MADV_POPULATE_*, leaves the pages to fault as
// before; hints past maxPrefaultPages in one Apply are dropped, and so are
// hints no Apply follows before the machine is recycled. Called on the
// tracing thread.
func (m *machine) PrefaultHint(addr, length uint64, write bool) {
	m = m.caller()
	start := addr &^ (pageSize - 1)
	end := (addr + length + pageSize - 1) &^ (pageSize - 1)
	if end <= start || end > m.limit || end < addr {
		return
	}
	n := uint64(0)
	for _, h := range m.prefault {
		n += h.len / pageSize
	}
	if n+(end-start)/pageSize > maxPrefaultPages {
		return
	}
	m.prefault = append(m.prefault, prefaultHint{addr: start, len: end - start, write: write})
}

// planPrefaults adds the pending hints to the end of p, as far as the table
// has room, and forgets them.
func (m *machine) planPrefaults(p *batchPlan) {
	for _, h := range m.prefault {
		if len(p.ents) >= batchMax {
			break
		}
		advice := uint64(madvPopulateRead)
		if h.write {
			advice = madvPopulateWrite
		}
		p.add(batchEntry{nr: unix.SYS_MADVISE, args: [6]uint64{h.addr, h.len, advice}},
			plannedEntry{kind: entryPrefault, op: -1})
	}
	m.prefault = m.prefault[:0]
}

// prefaultFailed notes a prefault entry that failed: the batch stopped
// there, after every op had run, and the pages will fault as usual.
func (m *machine) prefaultFailed(e *batchEntry) {
	if m.log.IsTrace() {
		m.log.Trace("prefault refused", "addr", fmt.Sprintf("%#x", e.args[0]), "len", e.args[1],
			"advice", e.args[2], "error", errnoOf(e.ret))
	}
}
