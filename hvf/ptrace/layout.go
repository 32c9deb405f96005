package ptrace

import (
	"bytes"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/hvf/internal/maplayout"
)

// The stub's guest mappings, kept across a recycle.
//
// A recycled stub used to unmap the whole guest range when its process
// ended, and the next process (a fork child of the same parent, most of the
// time) mapped the same files at the same places again: one munmap of
// every page table at the end, one batch of mmaps and the page faults that
// refill the tables at the start, ~100-150 us of a fork of 4 MiB on a PVM
// host, where every page-table change traps.
//
// So the machine records what it has mapped (layout): every span of the
// guest range it knows to be mapped, with the file, offset and protection.
// A recycle that keeps (RecycleKeeping) leaves in place the spans of the
// RAM file the guestproc keeps for its next process and of files mapped
// read-only (neither holds a file open for writing: a kept mapping must
// not make an exec fail with ETXTBSY), checked against the stub's
// /proc/PID/maps, and unmaps everything else. Those spans are stale: the
// next process may claim them by mapping exactly the same (same file,
// offset and protection), which then costs nothing; whatever it maps over
// them replaces them; what is still stale once its first Apply has run
// (the address space of a fork child or an exec is built in one) goes in
// that same batch, and in any case before guest code runs (Run). So a
// process never sees a mapping it did not make.
//
// The record only ever errs towards less: an operation whose outcome is
// not known removes its range from it, and anything outside it is unmapped
// at the recycle.

// spans is the layout's record (hvf/internal/maplayout).
type spans = maplayout.Spans

// layoutKey is k as the layout records it.
func layoutKey(k fileKey) maplayout.Key {
	return maplayout.Key{Dev: k.dev, Ino: k.ino, AccMode: k.accMode}
}

// noteOp records an op entry of a batch in the layout.
func (m *machine) noteOp(e *batchEntry, k fileKey) {
	r := m.root()
	switch e.nr {
	case unix.SYS_MMAP:
		r.layout = r.layout.Set(maplayout.Span{Start: e.args[0], End: e.args[0] + e.args[1], Key: layoutKey(k), Off: e.args[5], Prot: e.args[2]})
	case unix.SYS_MPROTECT:
		r.layout = r.layout.Protect(e.args[0], e.args[0]+e.args[1], e.args[2])
	default:
		r.layout = r.layout.Cut(e.args[0], e.args[0]+e.args[1])
	}
}

// forget removes [addr, addr+length) from the layout: what is mapped there
// is not known (a failed or unknown operation), so a recycle unmaps it.
func (m *machine) forget(addr, length uint64) {
	r := m.root()
	r.layout = r.layout.Cut(addr, addr+length)
}

// keepPlan plans a recycle that keeps, from the stub's maps: the spans of
// the layout it keeps (maplayout.Keeps: those of the files keep, elfuse's
// own, the RAM the guestproc keeps and the vDSO's data page, and of
// read-only files), each confirmed by the maps, and the munmaps of
// everything else the maps show in the guest range but the anchors. ok is
// false when the plan cannot be made (the anchors were covered, the maps
// could not be read).
func (m *machine) keepPlan(keep []fileKey) (kept spans, ents []batchEntry, ok bool) {
	if !m.anchorsUp || m.anchorsLost {
		return nil, nil, false
	}
	data, err := m.readMaps()
	if err != nil {
		return nil, nil, false
	}
	lines, err := parseMapLines(data)
	if err != nil {
		return nil, nil, false
	}
	keys := make([]maplayout.Key, len(keep))
	for i, k := range keep {
		keys[i] = layoutKey(k)
	}
	for _, s := range m.layout {
		if maplayout.Keeps(s.Key, keys) && mapsConfirm(lines, &s) {
			s.Stale = true
			kept = append(kept, s)
		}
	}
	// What the maps show in the guest range, less what stays.
	var gone spans
	for _, l := range lines {
		if l.start < m.limit {
			gone = append(gone, maplayout.Span{Start: l.start, End: min(l.end, m.limit)})
		}
	}
	for _, s := range kept {
		gone = gone.Cut(s.Start, s.End)
	}
	for _, a := range m.anchors {
		gone = gone.Cut(a, a+pageSize)
	}
	for i := 0; i < len(gone); i++ {
		start, end := gone[i].Start, gone[i].End
		for i+1 < len(gone) && gone[i+1].Start == end {
			i++
			end = gone[i].End
		}
		ents = append(ents, batchEntry{nr: unix.SYS_MUNMAP, args: [6]uint64{start, end - start}})
	}
	if len(ents)+1 > batchMax {
		return nil, nil, false
	}
	return kept, ents, true
}

// readMaps reads the stub's /proc/PID/maps into a buffer the next call
// reuses. The file stays open (Close closes it): reading it
// again costs about half an open, read and close (~30 against ~55 us for
// a stub's 40 lines here), and the tracer's access was checked once, at
// the open, whatever credentials the thread carries later.
func (m *machine) readMaps() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.procFileLocked(&m.mapsFile, "maps") // recycle.go
	if err != nil {
		return nil, err
	}
	if m.mapsBuf == nil {
		m.mapsBuf = make([]byte, 16<<10)
	}
	n := 0
	for {
		if n == len(m.mapsBuf) {
			m.mapsBuf = append(m.mapsBuf, make([]byte, len(m.mapsBuf))...)
		}
		k, err := f.ReadAt(m.mapsBuf[n:], int64(n))
		n += k
		if err == io.EOF {
			return m.mapsBuf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// mapLine is a line of /proc/PID/maps with what a kept span is checked
// against.
type mapLine struct {
	start, end, off uint64
	prot            uint64
	shared          bool
	major, minor    uint32
	ino             uint64
}

// parseMapLines parses /proc/PID/maps ("start-end perms offset maj:min
// inode [path]" a line), by hand: Fields and ParseUint on every line were
// half of a recycle's plan (perf of a fork loop).
func parseMapLines(data []byte) ([]mapLine, error) {
	out := make([]mapLine, 0, 64)
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		l, ok := parseMapLine(line)
		if !ok {
			return nil, fmt.Errorf("ptrace: bad maps line %q", line)
		}
		out = append(out, l)
	}
	return out, nil
}

// parseMapLine parses one line of /proc/PID/maps.
func parseMapLine(b []byte) (l mapLine, ok bool) {
	var ma, mi uint64
	p := mapsParser{b: b}
	l.start = p.number(16, '-')
	l.end = p.number(16, ' ')
	perms := p.field(' ')
	l.off = p.number(16, ' ')
	ma = p.number(16, ':')
	mi = p.number(16, ' ')
	l.ino = p.number(10, ' ')
	if !p.ok || len(perms) != 4 || ma > 1<<32-1 || mi > 1<<32-1 {
		return mapLine{}, false
	}
	l.major, l.minor = uint32(ma), uint32(mi)
	if perms[0] == 'r' {
		l.prot |= unix.PROT_READ
	}
	if perms[1] == 'w' {
		l.prot |= unix.PROT_WRITE
	}
	if perms[2] == 'x' {
		l.prot |= unix.PROT_EXEC
	}
	l.shared = perms[3] == 's'
	return l, true
}

// mapsParser reads the fields of a maps line in turn; ok turns false at
// the first one missing or malformed.
type mapsParser struct {
	b  []byte
	ok bool
	n  int // fields read
}

// field returns the next field, up to sep (or the line's end), with the
// spaces after it skipped.
func (p *mapsParser) field(sep byte) []byte {
	if p.n == 0 {
		p.ok = true
	}
	p.n++
	i := bytes.IndexByte(p.b, sep)
	if i < 0 {
		if sep != ' ' || len(p.b) == 0 {
			p.ok = false
			return nil
		}
		i = len(p.b)
	}
	f := p.b[:i]
	p.b = p.b[min(i+1, len(p.b)):]
	for len(p.b) > 0 && p.b[0] == ' ' {
		p.b = p.b[1:]
	}
	if len(f) == 0 {
		p.ok = false
	}
	return f
}

// number is field, parsed in base (10 or 16).
func (p *mapsParser) number(base uint64, sep byte) uint64 {
	f := p.field(sep)
	if len(f) > 16 {
		p.ok = false
		return 0
	}
	var v uint64
	for _, c := range f {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			p.ok = false
			return 0
		}
		v = v*base + d
	}
	return v
}

// mapsConfirm reports whether the maps lines show all of s mapped shared
// from its file, offset and protection.
func mapsConfirm(lines []mapLine, s *maplayout.Span) bool {
	at := s.Start
	for _, l := range lines {
		if l.end <= at || l.start >= s.End {
			continue
		}
		if l.start > at || !l.shared || l.prot != s.Prot || l.ino != s.Key.Ino ||
			l.major != unix.Major(s.Key.Dev) || l.minor != unix.Minor(s.Key.Dev) ||
			l.off+(at-l.start) != s.OffAt(at) {
			return false
		}
		at = l.end
		if at >= s.End {
			return true
		}
	}
	return false
}

// staleEntries are the munmaps of the stale spans, which leave the layout.
func (m *machine) staleEntries() []batchEntry {
	r := m.root()
	if !r.stale {
		return nil
	}
	var ents []batchEntry
	for _, s := range r.layout.StaleOnes() {
		ents = append(ents, batchEntry{nr: unix.SYS_MUNMAP, args: [6]uint64{s.Start, s.End - s.Start}})
		r.layout = r.layout.Cut(s.Start, s.End)
	}
	r.stale = false
	return ents
}

// dropStale unmaps the spans still stale (before guest code runs).
func (m *machine) dropStale() error {
	ents := m.staleEntries()
	if len(ents) == 0 {
		return nil
	}
	ran, err := m.runBatch(ents, nil, true)
	if err != nil {
		return fmt.Errorf("ptrace: unmap the previous process's mappings: %w", err)
	}
	if ran < len(ents) || failed(ents[ran-1].ret) {
		e := ents[max(ran, 1)-1]
		return fmt.Errorf("ptrace: unmap the previous process's mapping %#x+%#x: %w", e.args[0], e.args[1], errnoOf(e.ret))
	}
	return nil
}

// claim reports whether op, a map, is already in place: the stub maps the
// same file there from the same offset with the same protection (stale
// spans of the previous process, or a map made again, as a fork child's
// [vvar]). Stale spans are then the current process's.
func (m *machine) claim(p *batchPlan, op hvf.MapOp) (bool, error) {
	r := m.root()
	if len(r.layout) == 0 {
		return false, nil
	}
	k, _, err := p.fileKey(op.Fd)
	if err != nil {
		return false, err
	}
	l, ok := r.layout.Claim(op.Addr, op.Addr+op.Len, layoutKey(k), uint64(op.Off), hostProt(op.Prot))
	r.layout = l
	return ok, nil
}

// planStale adds the munmaps of the spans still stale to p (the end of the
// first Apply after a recycle, which builds the new address space), if
// they fit.
func (m *machine) planStale(p *batchPlan) {
	r := m.root()
	if !r.stale || len(p.ents)+len(r.layout.StaleOnes()) > batchMax {
		return
	}
	for _, e := range m.staleEntries() {
		p.add(e, plannedEntry{kind: entryStale, op: -1})
	}
}

// acts reports whether p has an entry other than prefaults.
func (p *batchPlan) acts() bool {
	for _, pe := range p.info {
		if pe.kind != entryPrefault {
			return true
		}
	}
	return false
}

// forgetPlanned removes from the layout the ranges of p's op and stale
// entries from index from on, whose outcome is not known.
func (m *machine) forgetPlanned(p *batchPlan, from int) {
	for i := from; i < len(p.ents); i++ {
		if k := p.info[i].kind; k == entryOp || k == entryStale {
			m.forget(p.ents[i].args[0], p.ents[i].args[1])
		}
	}
}
