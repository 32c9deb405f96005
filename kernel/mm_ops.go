package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// pageRange validates a page-aligned start and rounds length up; ok=false
// when the rounded range overflows or leaves the address space.
func (m *MM) pageRange(addr abi.Addr, length uint64) (r abi.Range, ok bool) {
	l, ok := abi.Addr(length).RoundUp()
	if !ok {
		return abi.Range{}, false
	}
	end, ok := addr.AddLength(uint64(l))
	if !ok || end > m.limit {
		return abi.Range{}, false
	}
	return abi.Range{Start: addr, End: end}, true
}

// Munmap removes the mappings in [addr, addr+length) as munmap(2).
func (m *MM) Munmap(addr abi.Addr, length uint64) error {
	if !addr.PageAligned() || length == 0 {
		return abi.EINVAL
	}
	r, ok := m.pageRange(addr, length)
	if !ok {
		return abi.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unmapRange(r)
}

// Mprotect changes permissions as mprotect(2). Like Linux it fails with
// ENOMEM on a hole: unchanged if the hole is at the start, else after
// changing the mapped part before the hole.
func (m *MM) Mprotect(addr abi.Addr, length uint64, prot int) error {
	if !addr.PageAligned() {
		return abi.EINVAL
	}
	const known = abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC | abi.PROT_GROWSDOWN | abi.PROT_GROWSUP
	if prot&^known != 0 || prot&(abi.PROT_GROWSDOWN|abi.PROT_GROWSUP) == abi.PROT_GROWSDOWN|abi.PROT_GROWSUP {
		return abi.EINVAL
	}
	if length == 0 {
		return nil
	}
	r, ok := m.pageRange(addr, length)
	if !ok {
		return abi.ENOMEM
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mapped := abi.Range{Start: r.Start, End: m.coveredEnd(r)}
	if mapped.End == mapped.Start {
		return abi.ENOMEM
	}
	if prot&abi.PROT_WRITE != 0 {
		for i := m.find(mapped.Start); i < len(m.vmas) && m.vmas[i].start < mapped.End; i++ {
			if v := &m.vmas[i]; v.shared && !v.back.writable {
				return abi.EACCES
			}
		}
	}
	if err := m.protectRange(mapped, hostProt(prot)); err != nil {
		return err
	}
	if mapped.End < r.End {
		return abi.ENOMEM
	}
	return nil
}

// SetBrk moves the program break as brk(2) and returns the new break (the old
// one when the request cannot be met). The break is byte exact; the heap
// mapping covers it rounded up to a page, and shrinking unmaps whole pages
// only.
func (m *MM) SetBrk(addr abi.Addr) abi.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.window == nil || m.brkStart == 0 || addr < m.brkStart || addr >= m.limit {
		return m.brk
	}
	oldEnd, _ := m.brk.RoundUp()
	newEnd, ok := addr.RoundUp()
	if !ok {
		return m.brk
	}
	switch {
	case newEnd > oldEnd:
		r := abi.Range{Start: oldEnd, End: newEnd}
		// Like Linux, keep a guard page between the heap and the next
		// mapping.
		if newEnd > m.mmapBase || !m.isFree(abi.Range{Start: oldEnd, End: newEnd + abi.PageSize}) {
			return m.brk
		}
		v := vma{start: r.Start, end: r.End, prot: hostProt(abi.PROT_READ | abi.PROT_WRITE), name: "[heap]"}
		m.hintGrowth(r) // mm_prefault.go
		if err := m.addVMA(v); err != nil {
			return m.brk
		}
	case newEnd < oldEnd:
		if err := m.unmapRange(abi.Range{Start: newEnd, End: oldEnd}); err != nil {
			return m.brk
		}
	}
	m.brk = addr
	return m.brk
}

// Mremap resizes or moves a mapping as mremap(2).
func (m *MM) Mremap(old abi.Addr, oldLen, newLen uint64, flags int, newAddr abi.Addr) (abi.Addr, error) {
	if flags&^(abi.MREMAP_MAYMOVE|abi.MREMAP_FIXED|abi.MREMAP_DONTUNMAP) != 0 ||
		(flags&(abi.MREMAP_FIXED|abi.MREMAP_DONTUNMAP) != 0 && flags&abi.MREMAP_MAYMOVE == 0) ||
		!old.PageAligned() {
		return 0, abi.EINVAL
	}
	ol, ok1 := abi.Addr(oldLen).RoundUp()
	nl, ok2 := abi.Addr(newLen).RoundUp()
	if !ok1 || !ok2 || nl == 0 {
		return 0, abi.EINVAL
	}
	if flags&abi.MREMAP_DONTUNMAP != 0 && ol != nl {
		return 0, abi.EINVAL
	}
	fixed := flags&abi.MREMAP_FIXED != 0
	if fixed {
		end, ok := newAddr.AddLength(uint64(nl))
		if !newAddr.PageAligned() || !ok || end > m.limit {
			return 0, abi.EINVAL
		}
		if end2, ok := old.AddLength(uint64(ol)); !ok ||
			(abi.Range{Start: newAddr, End: end}).Overlaps(abi.Range{Start: old, End: max(end2, old+1)}) {
			return 0, abi.EINVAL
		}
		if newAddr < abi.MMAP_MIN_ADDR {
			return 0, abi.EPERM
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(old)
	if i == len(m.vmas) || m.vmas[i].start > old {
		return 0, abi.EFAULT
	}
	if m.vmas[i].direct {
		// Moving or growing works on private pages: copy the file first.
		if err := m.materialiseRange(m.vmas[i].rng()); err != nil {
			return 0, err
		}
		i = m.find(old)
	}
	v := m.vmas[i]
	if ol == 0 {
		// Duplicating a mapping only makes sense for shared memory.
		if !v.shared || flags&abi.MREMAP_MAYMOVE == 0 {
			return 0, abi.EINVAL
		}
	} else if old+ol > v.end || old+ol < old {
		return 0, abi.EFAULT
	}
	if flags&abi.MREMAP_DONTUNMAP != 0 && (v.shared || v.back != nil) {
		return 0, abi.EINVAL // Linux allows it for private anonymous memory only
	}

	if fixed {
		if err := m.unmapRange(abi.Range{Start: newAddr, End: newAddr + nl}); err != nil {
			return 0, err
		}
		if nl < ol {
			if err := m.unmapRange(abi.Range{Start: old + nl, End: old + ol}); err != nil {
				return 0, err
			}
			ol = nl
		}
		return m.moveLocked(v, old, uint64(ol), newAddr, uint64(nl), flags)
	}
	if nl <= ol && flags&abi.MREMAP_DONTUNMAP == 0 {
		if nl < ol {
			if err := m.unmapRange(abi.Range{Start: old + nl, End: old + ol}); err != nil {
				return 0, err
			}
		}
		return old, nil
	}
	// Grow in place when the VMA ends at the old end and the space after
	// it is free.
	grow := abi.Range{Start: old + ol, End: old + nl}
	if ol != 0 && flags&abi.MREMAP_DONTUNMAP == 0 && old+ol == v.end && grow.End > grow.Start && grow.End <= m.limit && m.isFree(grow) {
		if err := m.extendLocked(v, grow); err != nil {
			return 0, err
		}
		return old, nil
	}
	if flags&abi.MREMAP_MAYMOVE == 0 {
		return 0, abi.ENOMEM
	}
	to, ok := m.findFree(uint64(nl), abi.PageSize, abi.MMAP_MIN_ADDR, m.mmapBase)
	if !ok {
		return 0, abi.ENOMEM
	}
	return m.moveLocked(v, old, uint64(ol), to, uint64(nl), flags)
}

// extendLocked maps r right after VMA v with v's attributes.
// Preconditions: m.mu held for writing; r free and starting at v.end.
func (m *MM) extendLocked(v vma, r abi.Range) error {
	nv := v
	nv.start, nv.end = r.Start, r.End
	if nv.back != nil {
		nv.off = v.off + uint64(r.Start-v.start)
		if v.shared {
			if err := growShared(v.back, nv.off+r.Len()); err != nil {
				return err
			}
		}
		nv.back.acquire()
	}
	if err := m.addVMA(nv); err != nil {
		return err
	}
	if !nv.shared && nv.back != nil {
		return m.fillFromFile(nv.back, nv.off, r)
	}
	return nil
}

// moveLocked moves [old, old+oldLen) of VMA v to [to, to+newLen) (free),
// growing it with v's attributes when newLen > oldLen.
// Preconditions: m.mu held for writing.
func (m *MM) moveLocked(v vma, old abi.Addr, oldLen uint64, to abi.Addr, newLen uint64, flags int) (abi.Addr, error) {
	nv := v
	nv.start, nv.end = to, to+abi.Addr(newLen)
	if nv.back != nil {
		nv.off = v.off + uint64(old-v.start)
		if v.shared {
			if err := growShared(v.back, nv.off+newLen); err != nil {
				return 0, err
			}
		}
		nv.back.acquire()
	}
	if err := m.addVMA(nv); err != nil {
		return 0, err
	}
	oldR := abi.Range{Start: old, End: old + abi.Addr(oldLen)}
	if !nv.shared {
		if err := m.moveRAM(old, to, oldLen); err != nil {
			return 0, err
		}
		if nv.back != nil && newLen > oldLen {
			tail := abi.Range{Start: to + abi.Addr(oldLen), End: nv.end}
			if err := m.fillFromFile(nv.back, nv.off+oldLen, tail); err != nil {
				return 0, err
			}
		}
	}
	if flags&abi.MREMAP_DONTUNMAP != 0 || oldLen == 0 {
		return to, nil // the old range stays mapped (and reads zero if private)
	}
	if err := m.unmapRange(oldR); err != nil {
		return 0, err
	}
	return to, nil
}

// Madvise applies advice as madvise(2). Advice that only tunes performance
// is accepted and does nothing; so is MADV_FREE, which lets the kernel drop
// pages lazily (until then they keep their contents, as on an idle Linux).
func (m *MM) Madvise(addr abi.Addr, length uint64, advice int) error {
	switch advice {
	case abi.MADV_NORMAL, abi.MADV_RANDOM, abi.MADV_SEQUENTIAL, abi.MADV_WILLNEED,
		abi.MADV_DONTNEED, abi.MADV_FREE, abi.MADV_REMOVE, abi.MADV_DONTFORK, abi.MADV_DOFORK,
		abi.MADV_MERGEABLE, abi.MADV_UNMERGEABLE, abi.MADV_HUGEPAGE, abi.MADV_NOHUGEPAGE,
		abi.MADV_DONTDUMP, abi.MADV_DODUMP, abi.MADV_WIPEONFORK, abi.MADV_KEEPONFORK,
		abi.MADV_COLD, abi.MADV_PAGEOUT, abi.MADV_POPULATE_READ, abi.MADV_POPULATE_WRITE,
		abi.MADV_DONTNEED_LOCKED, abi.MADV_COLLAPSE:
	default:
		// Including MADV_HWPOISON and MADV_SOFT_OFFLINE: memory-failure
		// injection is not there for guests (a kernel without
		// CONFIG_MEMORY_FAILURE answers EINVAL too).
		return abi.EINVAL
	}
	if !addr.PageAligned() {
		return abi.EINVAL
	}
	r, ok := m.pageRange(addr, length)
	if !ok {
		return abi.EINVAL
	}
	if r.Len() == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hole := !m.covered(r)
	switch advice {
	case abi.MADV_DONTFORK, abi.MADV_DOFORK, abi.MADV_WIPEONFORK, abi.MADV_KEEPONFORK:
		m.splitAt(r.Start)
		m.splitAt(r.End)
		for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
			v := &m.vmas[i]
			switch advice {
			case abi.MADV_DONTFORK:
				v.dontFork = true
			case abi.MADV_DOFORK:
				v.dontFork = false
			case abi.MADV_WIPEONFORK:
				if v.shared || v.back != nil {
					return abi.EINVAL
				}
				v.wipeOnFork = true
			case abi.MADV_KEEPONFORK:
				v.wipeOnFork = false
			}
		}
		m.mergeRange(r)
	case abi.MADV_DONTNEED, abi.MADV_DONTNEED_LOCKED, abi.MADV_REMOVE:
		for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
			v := &m.vmas[i]
			part := v.rng().Intersect(r)
			if err := m.discardLocked(v, part, advice); err != nil {
				return err
			}
		}
	}
	if hole {
		return abi.ENOMEM
	}
	return nil
}

// discardLocked drops the pages of part (inside v): private memory reads
// zero afterwards (or the file again for a private file mapping); shared
// memory keeps its contents except for MADV_REMOVE, which frees the backing
// store. Preconditions: m.mu held for writing.
func (m *MM) discardLocked(v *vma, part abi.Range, advice int) error {
	if advice == abi.MADV_REMOVE {
		if v.back == nil {
			return abi.EINVAL // anonymous private memory has no file to punch
		}
		if !v.shared || !v.writable() {
			return abi.EACCES
		}
		off := v.off + uint64(part.Start-v.start)
		err := unix.Fallocate(v.back.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(part.Len()))
		if err != nil {
			return hostErrno(err)
		}
		return nil
	}
	if v.shared || v.direct {
		return nil // a direct mapping already reads the file
	}
	if err := m.punch(part); err != nil {
		return abi.EIO
	}
	if v.back != nil {
		return m.fillFromFile(v.back, v.off+uint64(part.Start-v.start), part)
	}
	return nil
}

// Msync validates and flushes a range as msync(2): MS_SYNC writes shared
// file mappings back (fdatasync).
func (m *MM) Msync(addr abi.Addr, length uint64, flags int) error {
	if flags&^(abi.MS_ASYNC|abi.MS_INVALIDATE|abi.MS_SYNC) != 0 || !addr.PageAligned() ||
		flags&(abi.MS_ASYNC|abi.MS_SYNC) == abi.MS_ASYNC|abi.MS_SYNC {
		return abi.EINVAL
	}
	r, ok := m.pageRange(addr, length)
	if !ok {
		return abi.ENOMEM
	}
	if r.Len() == 0 {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.covered(r) {
		return abi.ENOMEM
	}
	if flags&abi.MS_SYNC == 0 {
		return nil
	}
	for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
		if v := &m.vmas[i]; v.shared && !v.back.anon {
			if err := unix.Fdatasync(v.back.fd); err != nil {
				return abi.EIO
			}
		}
	}
	return nil
}

// Mincore fills vec with the residency of len(vec) pages from addr (bit 0
// set when resident) as mincore(2); ENOMEM if the range is not mapped.
func (m *MM) Mincore(addr abi.Addr, vec []byte) error {
	if !addr.PageAligned() {
		return abi.EINVAL
	}
	end, ok := addr.AddLength(uint64(len(vec)) * abi.PageSize)
	if !ok || end > m.limit || uint64(len(vec)) > uint64(m.limit)/abi.PageSize {
		return abi.ENOMEM
	}
	r := abi.Range{Start: addr, End: end}
	// A direct VMA reports its file's pages: the window must show it.
	if _, err := m.rlockShowing(r.Start, r.Len(), nil); err != nil {
		return abi.ENOMEM
	}
	defer m.mu.RUnlock()
	if !m.covered(r) {
		return abi.ENOMEM
	}
	err := m.window.pieces(r, func(at abi.Addr, b []byte) error {
		return hostMincore(b, vec[(at-r.Start)/abi.PageSize:])
	})
	if err != nil {
		return hostErrno(err)
	}
	for i := range vec {
		vec[i] &= 1
	}
	return nil
}
