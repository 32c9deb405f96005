package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// unmapMode says which parts of the memory state unmapRangeMode updates.
type unmapMode int

const (
	// unmapAll: the Machine forgets the range, shared and direct ranges
	// get the RAM memfd back in the window, private pages are punched.
	unmapAll unmapMode = iota
	// unmapReplace is unmapAll except for the Machine: the caller maps the
	// whole range over it right away (Machine.Map replaces a mapping in
	// place), which saves a backend call per mmap(MAP_FIXED) over existing
	// memory, ld.so's way of placing every library segment.
	unmapReplace
	// unmapRelease is for an address space going away (Release): the
	// Machine forgets the range; the window is about to be unmapped, so
	// it is not restored, and the RAM is punched in one call.
	unmapRelease
	// unmapKeepWindow is unmapRelease for an address space whose RAM and
	// window the next one takes over (releaseForExec): shared and direct
	// ranges get the RAM memfd back in the window.
	unmapKeepWindow
	// unmapKeepPages is unmapKeepWindow without the punch: the private
	// pages stay in the RAM for the next fork child to overwrite
	// (MM.keepRAM, ChildRAM.CopyFrom).
	unmapKeepPages
)

// maxUnmapGap is the widest hole between two mappings that one Machine.Unmap
// call still spans. Every backend call costs a round trip (an injected
// system call on the ptrace backend, page-table and host-mapping work on
// KVM), while unmapping a hole costs nothing more than walking it: the
// Machine maps nothing there (it maps exactly the VMAs). A process's
// mappings cluster in a few groups (program and heap; libraries, vDSO and
// stack below the stack top), so an exec's teardown takes a few calls
// instead of one per VMA.
const maxUnmapGap abi.Addr = 1 << 30

// unmapRange removes every mapping inside r: private pages are punched,
// shared ranges get the RAM memfd back in the window, the machine forgets
// the range. Holes inside r are fine.
// Preconditions: m.mu held for writing; r page aligned.
func (m *MM) unmapRange(r abi.Range) error { return m.unmapRangeMode(r, unmapAll) }

// unmapRangeMode is unmapRange with the parts given by mode.
// Preconditions: m.mu held for writing; r page aligned.
func (m *MM) unmapRangeMode(r abi.Range, mode unmapMode) error {
	m.splitAt(r.Start)
	m.splitAt(r.End)
	i := m.find(r.Start)
	j := i
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// run is the pending Machine.Unmap: mapped VMAs (and the holes between
	// them, all inside r) gathered into one call.
	var run abi.Range
	flush := func() {
		if run.Len() == 0 {
			return
		}
		if err := m.machine.Unmap(uint64(run.Start), run.Len()); err != nil {
			keep(errMachine("unmap", run, err))
		}
		run = abi.Range{}
	}
	for ; j < len(m.vmas) && m.vmas[j].start < r.End; j++ {
		v := &m.vmas[j]
		vr := v.rng()
		if v.prot != 0 && mode != unmapReplace {
			if run.Len() != 0 && vr.Start-run.End <= maxUnmapGap {
				run.End = vr.End
			} else {
				flush()
				run = vr
			}
		}
		if mode != unmapRelease && (v.shared || v.winFile) {
			keep(m.windowRestore(vr))
		}
		if mode == unmapAll || mode == unmapReplace {
			if !v.shared {
				// A direct VMA has no RAM pages, except those a vfork
				// child may have written into borrowed RAM: punch them too.
				keep(m.punch(vr))
			}
		}
		v.back.release()
	}
	flush()
	if mode == unmapRelease || mode == unmapKeepWindow {
		keep(m.punch(r))
	}
	m.vmas = append(m.vmas[:i], m.vmas[j:]...)
	return firstErr
}
