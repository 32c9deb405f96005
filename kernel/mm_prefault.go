package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// prefaulter is a Machine that can map guest pages in ahead of the guest's
// first touch (hvf/ptrace: one madvise at the end of the batch that makes
// the maps, against a page fault per page in the stub).
type prefaulter interface {
	PrefaultHint(addr, length uint64, write bool)
}

// maxPrefaultSegment is the largest writable PT_LOAD segment exec hints
// whole: a small program's .data and .bss are touched at once by its
// start-up code; a large one's are not.
const maxPrefaultSegment = 64 << 10

// maxPrefaultGrowth is the largest heap growth hinted at all (hintGrowth).
const maxPrefaultGrowth = 256 << 10

// growthPrefault is how much of a heap growth is hinted: its first pages.
const growthPrefault = 16 << 10

// hintGrowth hints the first growthPrefault bytes of a heap growth r that
// its Machine.Map is about to map: malloc grows the heap by what it needs
// now plus a pad (128 KiB in glibc) and fills it from the bottom, so its
// first pages get touched at once; the pad may never be. Hinting the whole
// growth cost 2.6 µs a page on session 20's host (hvf/ptrace: a 33-page
// growth touching two pages 111 µs, 25 without the hint), against
// ~3.4 for a fault of a page that is touched: a loss unless three
// quarters of the growth were touched (`bench/ab.sh`: a busybox sh loop
// 1 693 -> 1 563 µs, make -j2 0.81 -> 0.78 s). Larger growths are left
// to fault.
func (m *MM) hintGrowth(r abi.Range) {
	if r.Len() > maxPrefaultGrowth {
		return
	}
	mach := m.machine
	if q, ok := mach.(*machineQueue); ok {
		mach = q.Machine
	}
	if p, ok := mach.(prefaulter); ok {
		p.PrefaultHint(uint64(r.Start), min(uint64(r.Len()), growthPrefault), true)
	}
}

// hintPrefault tells the Machine that the guest will touch r as soon as it
// runs (write: by writing). Only within a burst of queued Machine calls
// (exec's, a new process's load): the hint then rides on the batch the
// burst's flush makes, which maps r; outside one there is no batch for it
// to ride on and it is not given.
func (m *MM) hintPrefault(r abi.Range, write bool) {
	q, ok := m.machine.(*machineQueue)
	if !ok || r.End <= r.Start {
		return
	}
	if p, ok := q.Machine.(prefaulter); ok {
		p.PrefaultHint(uint64(r.Start), uint64(r.Len()), write)
	}
}
