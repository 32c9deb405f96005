package ptrace

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// maxOpensPerBatch bounds the descriptors one batch brings into the stub,
// well under maxStubFiles, so that an eviction planned in a batch never
// picks a file another entry of the same batch is still opening.
const maxOpensPerBatch = maxStubFiles / 2

// entryKind says what a planned batch entry does.
type entryKind uint8

const (
	entryOp       entryKind = iota // the syscall of an op (mmap, mprotect, munmap)
	entryOpen                      // openat of /proc/<tracer>/fd/N for an op's descriptor
	entryClose                     // close of an evicted stub descriptor
	entryPrefault                  // madvise(MADV_POPULATE_*) of a hint, after every op (prefault.go)
	entryStale                     // munmap of a span the previous process left (layout.go)
)

// plannedEntry says what a batch entry is for, to account for its result.
type plannedEntry struct {
	kind entryKind
	op   int     // the op (index in the chunk) the entry serves
	key  fileKey // entryOpen, entryClose, entryOp of a map
	fd   int     // entryOpen: the caller's descriptor; entryClose: the stub's
}

// batchPlan is a batch being built from ops.
type batchPlan struct {
	ents    []batchEntry
	info    []plannedEntry
	strs    []byte
	pending map[fileKey]int // files opened by an earlier entry: that entry
	opens   int
	// keys remembers fileKeyOf of the descriptors seen so far: the ops
	// of an address space rebuilt at once (a fork child's, an exec's)
	// mostly name one RAM memfd, and each look is two system calls.
	keys map[int]fdKey
}

// fdKey is what fileKeyOf told of a descriptor.
type fdKey struct {
	k     fileKey
	named bool
}

// fileKey is fileKeyOf(fd), asked once per plan.
func (p *batchPlan) fileKey(fd int) (fileKey, bool, error) {
	if c, ok := p.keys[fd]; ok {
		return c.k, c.named, nil
	}
	k, named, err := fileKeyOf(fd)
	if err == nil {
		if p.keys == nil {
			p.keys = map[int]fdKey{}
		}
		p.keys[fd] = fdKey{k, named}
	}
	return k, named, err
}

func (p *batchPlan) add(e batchEntry, pe plannedEntry) int {
	p.ents = append(p.ents, e)
	p.info = append(p.info, pe)
	return len(p.ents) - 1
}

// Apply implements hvf.Batcher: the ops, and the openat of every descriptor
// the stub has not seen yet, run in as few batches as fit the stub's table
// (one for up to about a hundred ops). It stops at the first failure.
func (m *machine) Apply(ops []hvf.MapOp) (int, error) {
	m = m.caller()
	if err := m.checkThread(); err != nil {
		return 0, err
	}
	// Hints are for the pages this Apply maps: whatever happens, they
	// do not outlive it; nor do the stub's descriptors of named files
	// open for writing (fileCache).
	defer func() {
		m.prefault = m.prefault[:0]
		m.dropWriters()
	}()
	done := 0
	for done < len(ops) {
		n, err := m.applyChunk(ops[done:])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// applyChunk runs a prefix of ops in one batch and returns how many ops
// completed; an error describes the op at that index.
func (m *machine) applyChunk(ops []hvf.MapOp) (int, error) {
	p := &batchPlan{pending: map[fileKey]int{}}
	planned, planErr := m.plan(p, ops)
	if planErr == nil && planned == len(ops) {
		m.planStale(p)     // layout.go: the previous process's spans not claimed
		m.planPrefaults(p) // the last chunk: after every op
	}
	if !p.acts() {
		// Every op was a claim (layout.go): hints are for pages the
		// stub has had mapped all along.
		p.ents, p.info = nil, nil
	}
	if planErr == nil && planned == len(ops) && len(p.ents) == 1 && m.deferOp(&p.ents[0]) {
		// notify_defer.go: the guest's syscall makes it, or fails, which
		// is not known here: the range leaves the layout.
		m.forget(p.ents[0].args[0], p.ents[0].args[1])
		m.traceOp(ops[p.info[0].op])
		return len(ops), nil
	}
	ran, err := m.runBatch(p.ents, p.strs, true)
	if err != nil {
		m.settle(p, ran)
		m.forgetPlanned(p, 0)
		return p.opsDone(ran), err
	}
	for i := range ran {
		e, pe := &p.ents[i], &p.info[i]
		if pe.kind == entryPrefault {
			// Only prefaults follow: every op has run.
			if failed(e.ret) {
				m.prefaultFailed(e)
				return planned, planErr
			}
			continue
		}
		if !failed(e.ret) {
			switch pe.kind {
			case entryOpen:
				m.files.fds[pe.key] = int(e.ret)
				delete(p.pending, pe.key)
			case entryOp:
				if err := m.checkResult(ops[pe.op], e); err != nil {
					m.settle(p, i+1)
					m.forgetPlanned(p, i)
					return pe.op, err
				}
				m.traceOp(ops[pe.op])
			}
			continue
		}
		// Entry i failed, and the gadget stopped there.
		m.settle(p, i)
		m.forgetPlanned(p, i)
		switch pe.kind {
		case entryOpen:
			// The reopen was refused: pass the descriptor over the
			// socket and go on from the op that needed it.
			sfd, perr := m.passToStub(pe.fd)
			if perr != nil {
				op := ops[pe.op]
				return pe.op, fmt.Errorf("ptrace: map %#x+%#x: stub openat of fd %d: %v; %w",
					op.Addr, op.Len, pe.fd, errnoOf(e.ret), perr)
			}
			m.cacheFile(pe.key, sfd)
			return pe.op, nil
		case entryClose:
			op := ops[pe.op]
			return pe.op, fmt.Errorf("ptrace: map %#x+%#x: close stub fd %d: %w", op.Addr, op.Len, pe.fd, errnoOf(e.ret))
		}
		return pe.op, opError(ops[pe.op], errnoOf(e.ret))
	}
	if ran < len(p.ents) && p.info[ran].kind != entryPrefault {
		m.settle(p, ran)
		return p.opsDone(ran), fmt.Errorf("ptrace: batch stopped after %d of %d entries without an error", ran, len(p.ents))
	}
	return planned, planErr
}

// plan adds ops to p until the table is full and returns how many it
// planned; an error describes the op at that index, which cannot run.
func (m *machine) plan(p *batchPlan, ops []hvf.MapOp) (int, error) {
	for i, op := range ops {
		if len(p.ents)+3 > batchMax {
			return i, nil
		}
		if err := m.checkRange(op.Addr, op.Len); err != nil {
			return i, err
		}
		var e batchEntry
		var key fileKey
		switch op.Kind {
		case hvf.OpMap:
			if op.Off < 0 || op.Off%pageSize != 0 {
				return i, fmt.Errorf("ptrace: map %#x: offset %#x is not page aligned: %w", op.Addr, op.Off, unix.EINVAL)
			}
			claimed, err := m.claim(p, op) // layout.go
			if err != nil {
				return i, fmt.Errorf("ptrace: map %#x+%#x: %w", op.Addr, op.Len, err)
			}
			if claimed {
				m.traceOp(op)
				continue
			}
			key, _, _ = p.fileKey(op.Fd)
			e = batchEntry{nr: unix.SYS_MMAP, args: [6]uint64{op.Addr, op.Len, hostProt(op.Prot),
				unix.MAP_SHARED | unix.MAP_FIXED, 0, uint64(op.Off)}}
			src, sfd, stop, err := m.planFile(p, i, op.Fd)
			if err != nil {
				return i, fmt.Errorf("ptrace: map %#x+%#x: %w", op.Addr, op.Len, err)
			}
			if stop {
				return i, nil
			}
			if src >= 0 {
				e.linkArg(4, src)
			} else {
				e.args[4] = uint64(sfd)
			}
		case hvf.OpProtect:
			e = batchEntry{nr: unix.SYS_MPROTECT, args: [6]uint64{op.Addr, op.Len, hostProt(op.Prot)}}
		case hvf.OpUnmap:
			e = batchEntry{nr: unix.SYS_MUNMAP, args: [6]uint64{op.Addr, op.Len}}
		default:
			return i, fmt.Errorf("ptrace: unknown memory operation kind %d: %w", op.Kind, unix.EINVAL)
		}
		p.add(e, plannedEntry{kind: entryOp, op: i, key: key})
		// layout.go: recorded as planned, so that a later op of the
		// same batch (an exec's new image after the old one's unmap)
		// claims nothing this one changes; forgetPlanned undoes it for
		// an entry that does not run.
		m.noteOp(&e, key)
	}
	return len(ops), nil
}

// planFile finds the stub's descriptor for the caller's fd: a cached one
// (sfd), the openat entry of this batch that opens it (src >= 0), or a new
// openat entry it plans, after the close of an evicted descriptor when the
// cache is full. stop says the batch has opened enough files: the op waits
// for the next one.
func (m *machine) planFile(p *batchPlan, op, fd int) (src, sfd int, stop bool, err error) {
	k, named, err := p.fileKey(fd)
	if err != nil {
		return -1, -1, false, err
	}
	if named && k.accMode != unix.O_RDONLY {
		m.files.writers[k] = true
	}
	if sfd, ok := m.files.fds[k]; ok {
		m.files.touch(k)
		return -1, sfd, false, nil
	}
	if j, ok := p.pending[k]; ok {
		return j, -1, false, nil
	}
	if p.opens == maxOpensPerBatch {
		return -1, -1, true, nil
	}
	if len(m.files.order) >= maxStubFiles {
		old := m.files.order[0]
		m.files.order = m.files.order[1:]
		oldfd := m.files.fds[old]
		delete(m.files.fds, old)
		p.add(batchEntry{nr: unix.SYS_CLOSE, args: [6]uint64{uint64(oldfd)}},
			plannedEntry{kind: entryClose, op: op, key: old, fd: oldfd})
	}
	if m.noProcReopen {
		sfd, err := m.passToStub(fd)
		if err != nil {
			return -1, -1, false, err
		}
		m.cacheFile(k, sfd)
		return -1, sfd, false, nil
	}
	path := "/proc/" + strconv.Itoa(m.tracerPid) + "/fd/" + strconv.Itoa(fd) + "\x00"
	if len(p.strs)+len(path) > pageSize {
		return -1, -1, true, nil
	}
	at := batchStrings + uint64(len(p.strs))
	p.strs = append(p.strs, path...)
	j := p.add(batchEntry{nr: unix.SYS_OPENAT, args: [6]uint64{atFDCWD, at, uint64(k.accMode | unix.O_CLOEXEC)}},
		plannedEntry{kind: entryOpen, op: op, key: k, fd: fd})
	p.pending[k] = j
	p.opens++
	m.files.order = append(m.files.order, k)
	return j, -1, false, nil
}

// settle undoes the cache changes planned for entries from index ran on,
// which did not run: a file not opened leaves the cache, a descriptor not
// closed goes back in it (least recently used).
func (m *machine) settle(p *batchPlan, ran int) {
	for i := len(p.info) - 1; i >= ran; i-- {
		pe := &p.info[i]
		switch pe.kind {
		case entryOpen:
			delete(p.pending, pe.key)
			for j, k := range m.files.order {
				if k == pe.key {
					m.files.order = append(m.files.order[:j], m.files.order[j+1:]...)
					break
				}
			}
		case entryClose:
			m.files.fds[pe.key] = pe.fd
			m.files.order = append([]fileKey{pe.key}, m.files.order...)
		}
	}
}

// opsDone is the number of ops whose entries all ran, given that the
// first ran entries did, successfully.
func (p *batchPlan) opsDone(ran int) int {
	n := 0
	for i := range ran {
		if p.info[i].kind == entryOp {
			n = p.info[i].op + 1
		}
	}
	return n
}

// cacheFile records a descriptor brought into the stub outside a batch.
func (m *machine) cacheFile(k fileKey, sfd int) {
	m.files.fds[k] = sfd
	m.files.order = append(m.files.order, k)
}

// checkResult checks what a successful op entry returned.
func (m *machine) checkResult(op hvf.MapOp, e *batchEntry) error {
	if op.Kind == hvf.OpMap && e.ret != op.Addr {
		return fmt.Errorf("ptrace: map %#x+%#x: stub mapped at %#x", op.Addr, op.Len, e.ret)
	}
	return nil
}

func (m *machine) traceOp(op hvf.MapOp) {
	if op.Kind == hvf.OpMap && m.log.IsTrace() {
		m.log.Trace("map", "addr", fmt.Sprintf("%#x", op.Addr), "len", op.Len, "prot", op.Prot, "fd", op.Fd, "off", op.Off)
	}
}

// opError describes the failure of op's syscall.
func opError(op hvf.MapOp, errno unix.Errno) error {
	switch op.Kind {
	case hvf.OpMap:
		return fmt.Errorf("ptrace: map %#x+%#x fd %d off %#x: %w", op.Addr, op.Len, op.Fd, op.Off, errno)
	case hvf.OpProtect:
		return fmt.Errorf("ptrace: protect %#x+%#x: %w", op.Addr, op.Len, errno)
	}
	return fmt.Errorf("ptrace: unmap %#x+%#x: %w", op.Addr, op.Len, errno)
}

// fileKeyOf identifies the open file behind the caller's fd; named says
// it has a link in some directory (a memfd has none).
func fileKeyOf(fd int) (k fileKey, named bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileKey{}, false, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fileKey{}, false, fmt.Errorf("fcntl fd %d: %w", fd, err)
	}
	return fileKey{dev: st.Dev, ino: st.Ino, accMode: fl & unix.O_ACCMODE}, st.Nlink > 0, nil
}

// dropWriters closes the stub's descriptors of the files in
// m.files.writers (see fileCache). A close that fails leaves a descriptor
// in the stub, not a wrong mapping: it is logged.
func (m *machine) dropWriters() {
	for k := range m.files.writers {
		if sfd, ok := m.files.fds[k]; ok {
			m.files.forget(k)
			if _, err := m.inject(unix.SYS_CLOSE, uint64(sfd)); err != nil {
				m.log.Warn("close a stub descriptor of a file open for writing", "fd", sfd, "error", err)
			}
		}
		delete(m.files.writers, k)
	}
}
