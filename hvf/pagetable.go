package hvf

// Guest page tables built by the host (4-level). The caller chooses the
// physical address of every range; the KVM machine maps each 1 GiB chunk of
// guest virtual space onto a 1 GiB-aligned physical chunk.
//
// Leaves carry the guest's permissions: U always for guest RAM, W for
// ProtWrite, NX unless ProtExec (read is implied). A 2 MiB PDE is used when
// one Map/Protect covers a whole aligned 2 MiB block, 4 KiB PTEs otherwise.
// Upper levels are permissive (P|W|U).
//
// No table page is ever reused for another part of the address space: upper
// levels are never freed, and a page table (level 1) that becomes empty or
// is replaced by a 2 MiB leaf is parked and reused only for the same 2 MiB
// block. Shadow paging (PVM) keys its shadow pages by the guest table's
// physical address, and TDP hardware caches paging structures; a table page
// moved to another block would let stale entries translate the new block to
// the old block's memory. Bound to one block, a table only ever holds that
// block's translations, so invalidating the block's data pages is enough.
//
// Every change of a *present* entry is reported as a span to invalidate:
// shadow paging (PVM) and the TLB (VMX/SVM) keep translations of present
// entries until the host mapping of the target pages is invalidated
// (KVM-NOTES §9); the caller does that after the edit.

// Page-table entry bits.
const (
	ptePresent = 1 << 0
	pteWrite   = 1 << 1
	pteUser    = 1 << 2
	ptePS      = 1 << 7
	pteNX      = 1 << 63

	pteAddrMask = 0x000f_ffff_ffff_f000
	// pteTable is the value of a non-leaf entry's flags.
	pteTable = ptePresent | pteWrite | pteUser
)

const (
	pageSize  = 1 << 12
	size2M    = 1 << 21
	size1G    = 1 << 30
	size512G  = 1 << 39
	ptEntries = 512
)

// leafFlags turns guest permissions into 4 KiB leaf flags (0: no access,
// the entry stays not present).
func leafFlags(p Prot) uint64 {
	if p&(ProtRead|ProtWrite|ProtExec) == 0 {
		return 0
	}
	f := uint64(ptePresent | pteUser)
	if p&ProtWrite != 0 {
		f |= pteWrite
	}
	if p&ProtExec == 0 {
		f |= pteNX
	}
	return f
}

// span is a guest address range [start, end).
type span struct{ start, end uint64 }

// spans collects ranges, merging a range that continues the last one.
type spans []span

func (s *spans) add(start, end uint64) {
	if n := len(*s); n > 0 && (*s)[n-1].end >= start && (*s)[n-1].start <= start {
		if end > (*s)[n-1].end {
			(*s)[n-1].end = end
		}
		return
	}
	*s = append(*s, span{start, end})
}

// pageTables edits a page-table tree held in words, the host view of guest
// physical memory starting at base.
type pageTables struct {
	words []uint64
	base  uint64
	root  uint64
	// alloc returns the GPA of a zeroed page inside words.
	alloc func() (uint64, error)
	// parked holds page tables no PDE points to, by the virtual address of
	// the 2 MiB block they belong to.
	parked map[uint64]uint64
}

// tableFor returns a page table for the 2 MiB block at b: its parked one,
// cleared, or a new one.
func (pt *pageTables) tableFor(b uint64) (uint64, error) {
	if pa, ok := pt.parked[b]; ok {
		delete(pt.parked, b)
		clear(pt.table(pa))
		return pa, nil
	}
	return pt.alloc()
}

func (pt *pageTables) park(b, pa uint64) {
	if pt.parked == nil {
		pt.parked = map[uint64]uint64{}
	}
	pt.parked[b] = pa
}

// table returns the 512 entries of the table at guest-physical pa.
func (pt *pageTables) table(pa uint64) []uint64 {
	i := (pa - pt.base) / 8
	return pt.words[i : i+ptEntries : i+ptEntries]
}

// next returns the child table of entry *e, allocating it when absent and
// create is set; ok=false when absent and not created.
func (pt *pageTables) next(e *uint64, create bool) (tbl []uint64, ok bool, err error) {
	if *e&ptePresent != 0 {
		return pt.table(*e & pteAddrMask), true, nil
	}
	if !create {
		return nil, false, nil
	}
	pa, err := pt.alloc()
	if err != nil {
		return nil, false, err
	}
	*e = pa | pteTable
	return pt.table(pa), true, nil
}

// set makes every page of [start, end) carry leaf (4 KiB flags from
// leafFlags, or 0 to clear), mapped to physical pa onwards (pa is ignored
// when clearing). start, end and pa are page aligned; a 2 MiB leaf is used
// only where virtual and physical blocks are both 2 MiB aligned. Spans
// whose present translations changed are added to inv.
func (pt *pageTables) set(start, end, pa, leaf uint64, inv *spans) error {
	delta := pa - start // wraps; p+delta is the physical address of p
	create := leaf != 0
	pml4 := pt.table(pt.root)
	for a := start; a < end; {
		pdpt, ok, err := pt.next(&pml4[a>>39&511], create)
		if err != nil {
			return err
		}
		if !ok {
			a = min(end, (a|(size512G-1))+1)
			continue
		}
		pd, ok, err := pt.next(&pdpt[a>>30&511], create)
		if err != nil {
			return err
		}
		gEnd := min(end, (a|(size1G-1))+1)
		if !ok {
			a = gEnd
			continue
		}
		for a < gEnd {
			b := a &^ (size2M - 1)
			segEnd := min(gEnd, b+size2M)
			if err := pt.setBlock(&pd[a>>21&511], b, a, segEnd, delta, leaf, inv); err != nil {
				return err
			}
			a = segEnd
		}
	}
	return nil
}

// setBlock applies leaf to [a, segEnd) inside the 2 MiB block at b whose
// PDE is *pde; virtual p maps to physical p+delta.
func (pt *pageTables) setBlock(pde *uint64, b, a, segEnd, delta, leaf uint64, inv *spans) error {
	old := *pde
	if a == b && segEnd == b+size2M && (leaf == 0 || (b+delta)%size2M == 0) {
		var nw uint64
		if leaf != 0 {
			nw = (b + delta) | leaf | ptePS
		}
		if old == nw {
			return nil
		}
		*pde = nw
		if old&ptePresent != 0 {
			if old&ptePS == 0 {
				pt.park(b, old&pteAddrMask)
			}
			inv.add(b, b+size2M)
		}
		return nil
	}
	var tbl []uint64
	switch {
	case old&ptePresent == 0:
		if leaf == 0 {
			return nil
		}
		pa, err := pt.tableFor(b)
		if err != nil {
			return err
		}
		tbl = pt.table(pa)
		*pde = pa | pteTable
	case old&ptePS != 0:
		fl := old &^ (pteAddrMask | ptePS)
		if fl == leaf && old&pteAddrMask == b+delta {
			return nil
		}
		base := old & pteAddrMask
		pa, err := pt.tableFor(b)
		if err != nil {
			return err
		}
		tbl = pt.table(pa)
		for i := range uint64(ptEntries) {
			tbl[i] = (base + i*pageSize) | fl
		}
		*pde = pa | pteTable
		inv.add(b, b+size2M)
	default:
		tbl = pt.table(old & pteAddrMask)
	}
	for p := a; p < segEnd; p += pageSize {
		e := &tbl[p>>12&511]
		var nw uint64
		if leaf != 0 {
			nw = (p + delta) | leaf
		}
		if *e != nw {
			o := *e
			*e = nw
			if o&ptePresent != 0 {
				inv.add(p, p+pageSize)
			}
		}
	}
	if leaf == 0 && tableEmpty(tbl) {
		pa := *pde & pteAddrMask
		*pde = 0
		pt.park(b, pa)
		inv.add(b, b+size2M)
	}
	return nil
}

func tableEmpty(tbl []uint64) bool {
	for _, e := range tbl {
		if e != 0 {
			return false
		}
	}
	return true
}

// translation is the result of a page walk.
type translation struct {
	pa    uint64
	size  uint64 // 4 KiB, 2 MiB
	write bool   // writable at every level
	user  bool   // user at every level
	exec  bool   // NX at no level
}

// walk translates va like the CPU would (ok=false: not present).
func (pt *pageTables) walk(va uint64) (tr translation, ok bool) {
	tr = translation{write: true, user: true, exec: true}
	tbl := pt.table(pt.root)
	shift := uint(39)
	for level := 4; level >= 1; level-- {
		e := tbl[va>>shift&511]
		if e&ptePresent == 0 {
			return translation{}, false
		}
		tr.write = tr.write && e&pteWrite != 0
		tr.user = tr.user && e&pteUser != 0
		tr.exec = tr.exec && e&pteNX == 0
		if level == 1 || (level == 2 && e&ptePS != 0) {
			tr.size = 1 << shift
			tr.pa = e&pteAddrMask&^(tr.size-1) | va&(tr.size-1)
			return tr, true
		}
		tbl = pt.table(e & pteAddrMask)
		shift -= 9
	}
	return translation{}, false
}
