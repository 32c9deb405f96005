package hvf

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf/internal/maplayout"
)

// Recycling a KVM machine for the guestproc's next process.
//
// A fork child's guestproc that ends lives on as the next warm spare
// (guestproc/spawn_recycle.go). Without Recycle its VM was closed and a
// new one made for the next child: KVM_CREATE_VM, the system area, a
// memory slot per GiB chunk the child maps (KVM_SET_USER_MEMORY_REGION),
// vCPU creation, then the VM's teardown at the end. On a PVM host that
// was about a third of a fork child's guestproc time (perf of a fork
// loop: slot setup 11 %, the VM's close 9 %, its creation 4 % of all
// samples). Recycle keeps all of that: the VM, the system area with its
// page-table pool, every chunk with its host reservation and slot, and
// the vCPUs, parked for NewVCPU to reset. What goes is every guest
// mapping: the page-table entries of guest RAM, and the host windows
// behind them, which become PROT_NONE reservations again (that fires the
// MMU notifier, so KVM forgets every translation of the old process's
// memory, as Unmap does).
//
// Page tables stay bound to their 2 MiB block across lives (pagetable.go),
// so shadow paging never sees a table page move. A machine whose slots or
// page-table pool grew large is not recycled: the caller closes it, and
// the next process starts on a new VM.

// Limits past which a machine is closed rather than recycled: a fraction
// of KVM's memory slots and of the system area, so that a long-lived
// recycled guestproc never runs out of either.
const (
	recycleMaxSlotShare = 4 // at most 1/4 of KVM's memory slots in use
	recycleMaxSysShare  = 4 // at most 1/4 of the page-table area in use
)

// Recycle makes the machine of a process that ended ready for the next
// process of the same guestproc (kernel's ReleaseForReuse): every vCPU
// is closed (parked for reuse) and every guest mapping removed; the VM,
// its slots and its system area stay. On error the caller closes the
// machine.
func (m *kvmMachine) Recycle() error { return m.recycle(nil, false) }

// recycle is Recycle, keeping what RecycleKeeping keeps if keep
// (kvm_keep.go).
func (m *kvmMachine) recycle(keys []maplayout.Key, keep bool) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	vcpus := slices.Clone(m.vcpus)
	m.mu.Unlock()
	for _, c := range vcpus {
		if err := c.Close(); err != nil {
			return fmt.Errorf("kvm: recycle: close vCPU %d: %w", c.id, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if len(m.vcpus) != 0 {
		return fmt.Errorf("kvm: recycle: %d vCPUs still open", len(m.vcpus))
	}
	if int(m.nextSlot) > m.b.memslots/recycleMaxSlotShare || m.sysNext > mmioPA/recycleMaxSysShare {
		return fmt.Errorf("kvm: recycle: machine too large (%d slots, %d KiB of page tables)",
			m.nextSlot, m.sysNext>>10)
	}
	// Only what is mapped: the MMU notifier's cost grows with the range
	// (PVM walks its shadow mappings of every page of it), and page-table
	// entries exist only inside mapped regions; and not what is kept.
	var kept maplayout.Spans
	if keep {
		kept = m.keptSpans(keys)
	}
	var drop maplayout.Spans
	for _, r := range m.regions.rs {
		drop = append(drop, maplayout.Span{Start: r.start, End: r.end})
	}
	for _, s := range kept {
		drop = drop.Cut(s.Start, s.End)
	}
	for _, r := range drop {
		if err := m.dropRange(r.Start, r.End); err != nil {
			return fmt.Errorf("kvm: recycle: %w", err)
		}
	}
	m.layout = kept
	m.stale.Store(len(kept) > 0)
	if m.log.IsTrace() {
		m.log.Trace("machine recycled", "slots", m.nextSlot, "chunks", len(m.chunks),
			"page_table_kib", m.sysNext>>10, "parked_vcpus", len(m.idle))
	}
	return nil
}

// dropRange removes every mapping of [start, end) at once: page-table
// entries cleared and host windows back to reservations. Nothing is
// flushed: the windows' replacement zaps KVM's translations of them.
// Preconditions: m.mu held.
func (m *kvmMachine) dropRange(start, end uint64) error {
	var inv spans
	if err := m.pt.set(start, end, 0, 0, &inv); err != nil {
		return fmt.Errorf("clear page tables at %#x: %w", start, err)
	}
	err := m.forHost(start, end, false, func(host uintptr, a, n uint64) error {
		_, err := mmapRaw(host, n, unix.PROT_NONE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED, -1, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop the window at %#x: %w", start, err)
	}
	m.regions.remove(start, end)
	m.layout = m.layout.Cut(start, end)
	return nil
}
