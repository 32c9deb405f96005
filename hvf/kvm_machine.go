package hvf

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf/internal/maplayout"
)

// Address layout of a KVM Machine.
//
// Guest virtual (what the guest and the kernel see):
//
//	[0, AddrLimit)                guest RAM as given to Map
//	[sysBase, sysBase+sysSpan)    system area, sysBase = AddrLimit rounded up
//	                              to 1 GiB: code (ring-0 stubs + iretq),
//	                              trampoline (user RX), IDT, per-vCPU pages;
//	                              the two MMIO pages at its end
//
// Guest physical (only KVM and the page tables see it):
//
//	[0, sysSpan)                  system area: one memfd, slots of sysSlotSize
//	                              added as the page-table pool grows; its
//	                              last sysSlotSize is never a slot and holds
//	                              the MMIO pages, so stores there exit
//	sysSpan, +1 GiB, ...          one 1 GiB chunk per 1 GiB of virtual space
//	                              holding an accessible page, allocated in
//	                              that order (skipping 3-4 GiB), each one
//	                              memory slot over the host reservation of
//	                              that virtual GiB (made by the first Map
//	                              there, PROT_NONE where nothing is mapped)
//
// Virtual is not identical to physical: guest RAM near AddrLimit (64 TiB)
// could not be identity-mapped on hosts whose physical address width is
// below 47 bits (39 on most Intel clients, 46 on Xeons), and a compact
// physical space keeps slots few and small (KVM-NOTES §9). Within a chunk
// the offset is kept, so 2 MiB pages still line up. The kernel never sees
// physical addresses.
//
// Page tables themselves are not mapped in the guest's virtual space: only
// the host edits them. Per-chunk host reservations rather than one
// AddrLimit-sized window, because the kernel's MM keeps its own view of
// guest memory and two 64 TiB reservations do not fit in a 47-bit host
// address space.

const (
	chunkShift  = 30
	chunkSize   = 1 << chunkShift
	sysSpan     = 1 << 30
	sysSlotSize = 4 << 20

	sysCodeOff  = 0x0000
	sysTrampOff = 0x1000
	sysIDTOff   = 0x2000
	sysFixedEnd = 0x3000
)

// kvmMachine is one VM.
type kvmMachine struct {
	b     *kvmBackend
	log   hclog.Logger
	vmfd  int
	limit uint64

	sysBase uint64 // guest virtual address of the system area (GPA 0)
	mmioSys uint64 // GPA the syscall trampoline stores to
	mmioExc uint64 // GPA the exception stubs store to

	mu           sync.Mutex
	closed       bool
	sysFD        int
	sysMem       []byte // host mapping of the whole system area
	sysCommitted uint64 // bytes of the system area covered by slots
	sysNext      uint64 // bump offset of the pool
	sysFree      []uint64
	pt           pageTables
	chunks       map[uint64]*chunk // chunk index -> backing
	nextChunkPA  uint64
	// chunksSlotted counts the chunks with a memory slot.
	chunksSlotted int
	regions       regionSet
	// layout is what the guest range maps, as far as known, and stale
	// says part of it is a previous process's, not claimed yet
	// (kvm_keep.go).
	layout   maplayout.Spans
	stale    atomic.Bool
	nextSlot uint32
	vcpus    []*kvmVCPU
	idle     []idleVCPU // closed vCPUs kept for reuse
	nextVCPU int

	// setSlot installs a memory slot (KVM_SET_USER_MEMORY_REGION) and
	// flush invalidates KVM's view of a backed host range; unit tests
	// replace both.
	setSlot func(r *kvmUserspaceMemoryRegion) error
	flush   func(host uintptr, n uint64, hostProt int) error
}

func (b *kvmBackend) NewMachine(cfg Config) (Machine, error) {
	limit := cfg.AddrLimit
	if limit == 0 || limit%pageSize != 0 || limit > 1<<47-2*sysSpan {
		return nil, fmt.Errorf("kvm: bad AddrLimit %#x", limit)
	}
	sysBase := (limit + chunkSize - 1) &^ (chunkSize - 1)
	if pb := b.info.physBits; pb != 0 && pb < 64 && uint64(sysSpan+chunkSize) > 1<<pb {
		return nil, unavailable("guest physical addresses are only %d bits", pb)
	}
	vmfd, err := kvmIoctl(b.fd, kvmCreateVM, 0)
	if err != nil {
		return nil, fmt.Errorf("kvm: KVM_CREATE_VM: %w", err)
	}
	m := &kvmMachine{
		b: b, log: b.log, vmfd: vmfd, limit: limit,
		sysBase: sysBase, mmioSys: mmioPA, mmioExc: mmioPA + pageSize,
		sysFD: -1, chunks: map[uint64]*chunk{}, nextChunkPA: sysSpan,
		flush: flushHostRange,
	}
	m.setSlot = func(r *kvmUserspaceMemoryRegion) error {
		return kvmSetUserMemoryRegionIoctl(m.vmfd, r)
	}
	if err := m.initSystem(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// mmioPA is the physical address of the syscall MMIO page (the exception
// page follows): in the system span, above every system slot.
const mmioPA = sysSpan - sysSlotSize

// pciHole is the physical GiB below 4 GiB that chunks skip: KVM puts its
// private pages there on hosts without unrestricted guest (the EPT
// identity map at 0xfeffc000) and the default APIC base is there.
const pciHole = 3 << 30

// chunk is the backing of 1 GiB of guest virtual space.
type chunk struct {
	host    uintptr // host reservation
	pa      uint64  // guest physical base, once slotted
	slotted bool    // has its memory slot
}

// sysVA is the guest virtual address of system-area physical address pa.
func (m *kvmMachine) sysVA(pa uint64) uint64 { return m.sysBase + pa }

// initSystem creates the system area and writes the shared code, the IDT
// and their page-table entries.
func (m *kvmMachine) initSystem() error {
	fd, err := unix.MemfdCreate("elfuse-kvm-system", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("kvm: memfd_create: %w", err)
	}
	m.sysFD = fd
	if err := unix.Ftruncate(fd, sysSpan); err != nil {
		return fmt.Errorf("kvm: size system area: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, sysSpan, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("kvm: map system area: %w", err)
	}
	m.sysMem = mem
	m.sysNext = sysFixedEnd
	m.pt = pageTables{words: wordsOf(mem), alloc: m.allocPage}
	if err := m.growSystem(); err != nil {
		return err
	}
	return m.layoutSystem()
}

// layoutSystem allocates the page-table root and writes the shared code,
// trampoline and IDT with their page-table entries.
func (m *kvmMachine) layoutSystem() error {
	root, err := m.allocPage()
	if err != nil {
		return err
	}
	m.pt.root = root
	buildCodePage(m.sysPage(sysCodeOff), m.sysVA(m.mmioExc))
	buildTrampolinePage(m.sysPage(sysTrampOff), m.sysVA(m.mmioSys))
	buildIDT(m.sysPage(sysIDTOff), m.sysVA(sysCodeOff))
	var inv spans
	for _, p := range []struct {
		pa   uint64
		leaf uint64
	}{
		{sysCodeOff, ptePresent},                             // ring-0 RX
		{sysTrampOff, ptePresent | pteUser},                  // user RX
		{sysIDTOff, ptePresent | pteNX},                      // ring-0 R
		{m.mmioSys, ptePresent | pteWrite | pteUser | pteNX}, // user W
		{m.mmioExc, ptePresent | pteWrite | pteNX},           // ring-0 W
	} {
		va := m.sysVA(p.pa)
		if err := m.pt.set(va, va+pageSize, p.pa, p.leaf, &inv); err != nil {
			return err
		}
	}
	return nil
}

// sysPage returns the host bytes of the system-area page at physical pa.
func (m *kvmMachine) sysPage(pa uint64) []byte {
	return m.sysMem[pa : pa+pageSize : pa+pageSize]
}

// growSystem adds one system slot. Preconditions: m.mu held or init.
func (m *kvmMachine) growSystem() error {
	if m.sysCommitted+sysSlotSize > mmioPA {
		return fmt.Errorf("kvm: system area exhausted (%d MiB of page tables)", sysSpan>>20)
	}
	r := kvmUserspaceMemoryRegion{
		Slot:          m.nextSlot,
		GuestPhysAddr: m.sysCommitted,
		MemorySize:    sysSlotSize,
		UserspaceAddr: uint64(hostAddr(m.sysMem)) + m.sysCommitted,
	}
	if err := m.addSlot(&r); err != nil {
		return err
	}
	m.sysCommitted += sysSlotSize
	return nil
}

func (m *kvmMachine) addSlot(r *kvmUserspaceMemoryRegion) error {
	if int(m.nextSlot) >= m.b.memslots {
		return fmt.Errorf("kvm: out of memory slots (%d)", m.b.memslots)
	}
	if err := m.setSlot(r); err != nil {
		return fmt.Errorf("kvm: KVM_SET_USER_MEMORY_REGION slot %d gpa %#x size %#x: %w",
			r.Slot, r.GuestPhysAddr, r.MemorySize, err)
	}
	m.nextSlot++
	return nil
}

// allocPage returns a zeroed system page. Preconditions: m.mu held or init.
func (m *kvmMachine) allocPage() (uint64, error) {
	var pa uint64
	if n := len(m.sysFree); n > 0 {
		pa = m.sysFree[n-1]
		m.sysFree = m.sysFree[:n-1]
	} else {
		for m.sysNext+pageSize > m.sysCommitted {
			if err := m.growSystem(); err != nil {
				return 0, err
			}
		}
		pa = m.sysNext
		m.sysNext += pageSize
	}
	clear(m.sysPage(pa))
	return pa, nil
}

func (m *kvmMachine) freePage(pa uint64) { m.sysFree = append(m.sysFree, pa) }

var errClosed = errors.New("kvm: machine closed")

func (m *kvmMachine) checkRange(addr, length uint64) error {
	if addr%pageSize != 0 || length%pageSize != 0 || length == 0 {
		return fmt.Errorf("kvm: unaligned range %#x+%#x: %w", addr, length, unix.EINVAL)
	}
	if addr+length < addr || addr+length > m.limit {
		return fmt.Errorf("kvm: range %#x+%#x beyond AddrLimit %#x: %w", addr, length, m.limit, unix.ENOMEM)
	}
	if m.closed {
		return errClosed
	}
	return nil
}

// chunkFor returns chunk idx, reserving its host range when create is set
// (nil if absent). Its memory slot comes later, with the first accessible
// page (slotChunk): PROT_NONE reservations cost neither slots nor
// physical space. Preconditions: m.mu held.
func (m *kvmMachine) chunkFor(idx uint64, create bool) (*chunk, error) {
	if c, ok := m.chunks[idx]; ok || !create {
		return c, nil
	}
	h, err := mmapRaw(0, chunkSize, unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE, -1, 0)
	if err != nil {
		return nil, fmt.Errorf("kvm: reserve 1 GiB of host address space: %w", err)
	}
	c := &chunk{host: h}
	m.chunks[idx] = c
	return c, nil
}

// chunkMetaCost is what KVM keeps per 1 GiB memory slot whether the guest
// touches it or not: with shadow paging (PVM's) an 8-byte rmap entry per
// 4 KiB page, 2 MiB a GiB, plus the large-page tables.
const chunkMetaCost = chunkSize/pageSize*8 + 64<<10

// chunkBudget is how many chunks one VM may give memory slots: as many as
// an eighth of the host's RAM holds the metadata of. A guest mapping
// terabytes it never touches (MAP_NORESERVE, a sanitizer's shadow) would
// otherwise have the host kernel allocate gigabytes for the slots and
// call the OOM killer; past the budget Map fails with ENOMEM. At least 64
// (64 GiB), and 0 (no bound) when the host's RAM cannot be told.
func chunkBudget() int {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil || si.Totalram == 0 {
		return 0
	}
	ram := uint64(si.Totalram) * uint64(max(si.Unit, 1))
	return max(64, int(ram/8/chunkMetaCost))
}

// checkBudget fails with ENOMEM, before anything changes, when making
// [start, end) accessible with prot would slot more chunks than the budget
// allows. Preconditions: m.mu held.
func (m *kvmMachine) checkBudget(start, end uint64, prot Prot) error {
	if m.b.maxChunks <= 0 || leafFlags(prot) == 0 {
		return nil
	}
	need := 0
	for idx := start >> chunkShift; idx<<chunkShift < end; idx++ {
		if c := m.chunks[idx]; c == nil || !c.slotted {
			need++
		}
		if m.chunksSlotted+need > m.b.maxChunks {
			return fmt.Errorf("kvm: %d GiB of accessible guest memory, the most this host's RAM allows: %w",
				m.b.maxChunks, unix.ENOMEM)
		}
	}
	return nil
}

// slotChunk gives c its physical base and memory slot if it has none yet.
// Preconditions: m.mu held.
func (m *kvmMachine) slotChunk(c *chunk) error {
	if c.slotted {
		return nil
	}
	pa := m.nextChunkPA
	if pa == pciHole {
		pa += chunkSize
	}
	if pb := m.b.info.physBits; pb != 0 && pb < 64 && pa+chunkSize > 1<<pb {
		return fmt.Errorf("kvm: guest physical address space (%d bits) exhausted: %w", pb, unix.ENOMEM)
	}
	if m.b.maxChunks > 0 && m.chunksSlotted >= m.b.maxChunks {
		return fmt.Errorf("kvm: %d GiB of accessible guest memory, the most this host's RAM allows: %w",
			m.chunksSlotted, unix.ENOMEM)
	}
	r := kvmUserspaceMemoryRegion{
		Slot: m.nextSlot, GuestPhysAddr: pa,
		MemorySize: chunkSize, UserspaceAddr: uint64(c.host),
	}
	if err := m.addSlot(&r); err != nil {
		return err
	}
	c.pa, c.slotted = pa, true
	m.chunksSlotted++
	m.nextChunkPA = pa + chunkSize
	return nil
}

// forHost calls fn for each piece of [start, end) inside one chunk, with
// the piece's host address; pieces of absent chunks are skipped unless
// create. Preconditions: m.mu held.
func (m *kvmMachine) forHost(start, end uint64, create bool, fn func(host uintptr, a, n uint64) error) error {
	for a := start; a < end; {
		idx := a >> chunkShift
		n := min(end, (idx+1)<<chunkShift) - a
		c, err := m.chunkFor(idx, create)
		if err != nil {
			return err
		}
		if c != nil {
			if err := fn(c.host+uintptr(a-idx<<chunkShift), a, n); err != nil {
				return err
			}
		}
		a += n
	}
	return nil
}

// setPTEs gives guest RAM [start, end) the leaf flags (0: not present),
// mapping each page to its chunk's physical address and slotting chunks
// on first use. Preconditions: m.mu held; the chunks exist when leaf != 0.
func (m *kvmMachine) setPTEs(start, end, leaf uint64, inv *spans) error {
	if leaf == 0 {
		return m.pt.set(start, end, 0, 0, inv)
	}
	for a := start; a < end; {
		idx := a >> chunkShift
		n := min(end, (idx+1)<<chunkShift) - a
		c := m.chunks[idx]
		if c == nil {
			return fmt.Errorf("kvm: no backing at %#x", a)
		}
		if err := m.slotChunk(c); err != nil {
			return err
		}
		if err := m.pt.set(a, a+n, c.pa+a-idx<<chunkShift, leaf, inv); err != nil {
			return err
		}
		a += n
	}
	return nil
}

// Map implements Machine.Map: the host window of [addr, addr+length) gets
// fd mapped MAP_SHARED (read-write, or read-only for a read-only
// descriptor and no ProtWrite), then the page tables get prot.
func (m *kvmMachine) Map(addr, length uint64, prot Prot, fd int, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	if off < 0 || off%pageSize != 0 {
		return fmt.Errorf("kvm: map offset %#x: %w", off, unix.EINVAL)
	}
	k, kerr := kvmFileKey(fd)
	if m.claimMap(addr, length, prot, k, kerr, off) {
		return nil // kvm_keep.go: mapped so already
	}
	if m.stale.Load() {
		if err := m.dropStaleIn(addr, addr+length); err != nil {
			return err
		}
	}
	m.layout = m.layout.Cut(addr, addr+length) // not known until it is done
	if err := m.checkBudget(addr, addr+length, prot); err != nil {
		return err
	}
	hostProt := unix.PROT_READ | unix.PROT_WRITE
	err := m.forHost(addr, addr+length, true, func(host uintptr, a, n uint64) error {
		o := off + int64(a-addr)
		_, err := mmapRaw(host, n, hostProt, unix.MAP_SHARED|unix.MAP_FIXED, fd, o)
		if err == unix.EACCES && prot&ProtWrite == 0 && a == addr {
			hostProt = unix.PROT_READ
			_, err = mmapRaw(host, n, hostProt, unix.MAP_SHARED|unix.MAP_FIXED, fd, o)
		}
		if err != nil {
			return fmt.Errorf("kvm: map fd %d at %#x+%#x: %w", fd, a, n, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.regions.insert(addr, addr+length, hostProt)
	var inv spans
	if err := m.setPTEs(addr, addr+length, leafFlags(prot), &inv); err != nil {
		return err
	}
	if err := m.invalidate(inv); err != nil {
		return err
	}
	if kerr == nil {
		m.layout = m.layout.Set(maplayout.Span{Start: addr, End: addr + length, Key: k, Off: uint64(off), Prot: uint64(prot)})
	}
	return nil
}

// Protect implements Machine.Protect.
func (m *kvmMachine) Protect(addr, length uint64, prot Prot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	if !m.regions.covers(addr, addr+length) {
		return fmt.Errorf("kvm: protect %#x+%#x: range not mapped: %w", addr, length, unix.ENOMEM)
	}
	m.layout = m.layout.Cut(addr, addr+length) // kvm_keep.go: kept only as mapped
	if err := m.checkBudget(addr, addr+length, prot); err != nil {
		return err
	}
	if prot&ProtWrite != 0 {
		for _, r := range m.regions.overlap(addr, addr+length) {
			if r.hostProt&unix.PROT_WRITE != 0 {
				continue
			}
			rw := unix.PROT_READ | unix.PROT_WRITE
			err := m.forHost(r.start, r.end, false, func(host uintptr, a, n uint64) error {
				return mprotectRaw(host, n, rw)
			})
			if err != nil {
				return fmt.Errorf("kvm: protect %#x+%#x writable: %w", r.start, r.end-r.start, err)
			}
			m.regions.insert(r.start, r.end, rw)
		}
	}
	var inv spans
	if err := m.setPTEs(addr, addr+length, leafFlags(prot), &inv); err != nil {
		return err
	}
	return m.invalidate(inv)
}

// Unmap implements Machine.Unmap: page-table entries first, then the host
// window goes back to a PROT_NONE reservation, which also invalidates KVM's
// mappings of the range.
func (m *kvmMachine) Unmap(addr, length uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	return m.unmapLocked(addr, length)
}

// unmapLocked is Unmap. Preconditions: m.mu held, the range checked.
func (m *kvmMachine) unmapLocked(addr, length uint64) error {
	m.layout = m.layout.Cut(addr, addr+length)
	var inv spans
	if err := m.setPTEs(addr, addr+length, 0, &inv); err != nil {
		return err
	}
	err := m.forHost(addr, addr+length, false, func(host uintptr, a, n uint64) error {
		_, err := mmapRaw(host, n, unix.PROT_NONE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED, -1, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("kvm: unmap %#x+%#x: %w", addr, length, err)
	}
	m.regions.remove(addr, addr+length)
	return m.invalidate(inv)
}

// invalidate makes KVM forget translations of the given spans that are
// still backed: an mprotect to PROT_NONE and back fires the MMU notifier,
// which zaps shadow PTEs (PVM) or EPT/NPT entries and flushes the guest TLB
// (VMX/SVM) for those pages on every vCPU (KVM-NOTES §9).
// Preconditions: m.mu held.
func (m *kvmMachine) invalidate(inv spans) error {
	for _, s := range inv {
		for _, r := range m.regions.overlap(s.start, s.end) {
			err := m.forHost(r.start, r.end, false, func(host uintptr, a, n uint64) error {
				return m.flush(host, n, r.hostProt)
			})
			if err != nil {
				return fmt.Errorf("kvm: invalidate %#x+%#x: %w", r.start, r.end-r.start, err)
			}
		}
	}
	return nil
}

// Close implements Machine.Close: stops and frees every vCPU, the VM, the
// slots' host reservations and the system area.
func (m *kvmMachine) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	vcpus := m.vcpus
	m.vcpus = nil
	m.mu.Unlock()
	for _, c := range vcpus {
		c.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, p := range m.idle {
		keep(m.release(p))
	}
	m.idle = nil
	if m.vmfd >= 0 {
		keep(unix.Close(m.vmfd))
		m.vmfd = -1
	}
	for idx, c := range m.chunks {
		keep(munmapRaw(c.host, chunkSize))
		delete(m.chunks, idx)
	}
	if m.sysMem != nil {
		keep(unix.Munmap(m.sysMem))
		m.sysMem = nil
		m.pt.words = nil
	}
	if m.sysFD >= 0 {
		keep(unix.Close(m.sysFD))
		m.sysFD = -1
	}
	return first
}

// flushHostRange fires the MMU notifier on a backed host range by taking
// its protection away and giving it back (KVM-NOTES §9: about 15 us).
func flushHostRange(host uintptr, n uint64, hostProt int) error {
	if err := mprotectRaw(host, n, unix.PROT_NONE); err != nil {
		return err
	}
	return mprotectRaw(host, n, hostProt)
}

func mmapRaw(addr uintptr, length uint64, prot, flags, fd int, off int64) (uintptr, error) {
	r, _, e := unix.Syscall6(unix.SYS_MMAP, addr, uintptr(length), uintptr(prot), uintptr(flags), uintptr(fd), uintptr(off))
	if e != 0 {
		return 0, e
	}
	return r, nil
}

func munmapRaw(addr uintptr, length uint64) error {
	if _, _, e := unix.Syscall(unix.SYS_MUNMAP, addr, uintptr(length), 0); e != 0 {
		return e
	}
	return nil
}

func mprotectRaw(addr uintptr, length uint64, prot int) error {
	if _, _, e := unix.Syscall(unix.SYS_MPROTECT, addr, uintptr(length), uintptr(prot)); e != 0 {
		return e
	}
	return nil
}
