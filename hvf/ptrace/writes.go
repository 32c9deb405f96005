package ptrace

// Which pages of its mappings the guest wrote since the last look: the
// ground for a fork that copies only what changed since the previous one
// (docs/performance.md, sessions 21 and 22). Not used by the fork yet.
//
// A userfaultfd made in the stub (one injected syscall: it belongs to the
// address space that makes it) and fetched by the tracer (pidfd_getfd)
// registers the stub's mappings for asynchronous write protection
// (UFFD_FEATURE_WP_ASYNC), from the tracer: a write to a protected page is
// resolved in the stub's own page fault, with no message to read, and
// leaves the page unprotected. PAGEMAP_SCAN of the stub's
// /proc/PID/pagemap with PM_SCAN_WP_MATCHING reports the unprotected pages
// and protects them again, in one pass (~5 µs for 4 MiB with a few pages
// written, on session 21's host).
//
// A page table entry without a protection marker reads as written: one
// never made, one of a mapping made anew since the last scan (the new
// mapping is registered as the scan starts), one zapped by reclaim after
// a write. A scan errs only towards more, never less. What it cannot see
// is a write that does not go through the stub's page tables: the
// tracer's own, through its window or a descriptor of the file, are the
// caller's to count.

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// Linux ABI of userfaultfd and PAGEMAP_SCAN (not in x/sys/unix).
const (
	uffdUserModeOnly      = 1
	uffdAPIVersion        = 0xaa
	uffdFeatureWPShmem    = 1 << 12 // UFFD_FEATURE_WP_HUGETLBFS_SHMEM
	uffdFeatureWPAsync    = 1 << 15 // UFFD_FEATURE_WP_ASYNC
	uffdRegisterModeWP    = 1 << 1
	ioctlUffdAPI          = 0xc018aa3f // _IOWR(0xAA, 0x3F, struct uffdio_api)
	ioctlUffdRegister     = 0xc020aa00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	ioctlPagemapScan      = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanWPMatching      = 1 << 0
	pmScanCheckWPAsync    = 1 << 1
	pageIsWritten         = 1 << 1
	pagemapScanRegionsMax = 256
)

// Range is a span of guest addresses, [Start, End), page aligned.
type Range struct{ Start, End uint64 }

// WriteTracker reports the pages of a machine's stub mappings the guest
// wrote since its previous report.
type WriteTracker struct {
	uffd    int
	pagemap int
	regions []pageRegion // scratch for PAGEMAP_SCAN
}

// TrackWrites starts tracking the guest's writes to its mappings. Call it
// from the machine's thread, while the vCPU is not running; the tracker's
// own methods may be called from any thread. An error means the host
// cannot (an older kernel: userfaultfd's asynchronous write protection and
// PAGEMAP_SCAN came in Linux 6.7).
func (m *machine) TrackWrites() (*WriteTracker, error) {
	m = m.caller()
	if err := m.checkThread(); err != nil {
		return nil, err
	}
	sfd, err := m.inject(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly)
	if err != nil {
		return nil, fmt.Errorf("ptrace: userfaultfd in the stub: %w", err)
	}
	ufd, err := unix.PidfdGetfd(m.root().pidfd, int(sfd), 0)
	m.inject(unix.SYS_CLOSE, sfd) // the stub never uses it
	if err != nil {
		return nil, fmt.Errorf("ptrace: take the stub's userfaultfd: %w", err)
	}
	w := &WriteTracker{uffd: ufd, pagemap: -1}
	features, err := uffdAPI(ufd, uffdFeatureWPAsync|uffdFeatureWPShmem)
	if err == nil && features&uffdFeatureWPAsync == 0 {
		err = unix.EOPNOTSUPP
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("ptrace: asynchronous write protection: %w", err)
	}
	if w.pagemap, err = unix.Open("/proc/"+strconv.Itoa(m.stubPid())+"/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		w.Close()
		return nil, fmt.Errorf("ptrace: the stub's pagemap: %w", err)
	}
	w.regions = make([]pageRegion, pagemapScanRegionsMax)
	// PAGEMAP_SCAN (Linux 6.7) on one page below any mapping: an older
	// kernel does not know the ioctl.
	if _, _, err := pagemapScan(w.pagemap, 0, pageSize, w.regions, 0, pageIsWritten); err != nil {
		w.Close()
		return nil, fmt.Errorf("ptrace: PAGEMAP_SCAN: %v: %w", err, unix.EOPNOTSUPP)
	}
	return w, nil
}

// Written returns the pages of ranges (mapped in the stub, each one
// mapping or several of the same file) written since the previous call
// that covered them, and protects them again: all of a range the first
// time, and all of a part mapped anew since. A range the stub does not
// map, or maps in a way write protection does not cover, is an error:
// the caller then cannot tell what changed there.
func (w *WriteTracker) Written(ranges []Range) ([]Range, error) {
	var out []Range
	for _, r := range ranges {
		if r.Start >= r.End {
			continue
		}
		// Registering again what is registered changes nothing; a
		// mapping made since is registered now, its pages unmarked.
		if err := uffdRegisterWP(w.uffd, r.Start, r.End-r.Start); err != nil {
			return nil, fmt.Errorf("ptrace: register %#x-%#x for write tracking: %w", r.Start, r.End, err)
		}
		for at := r.Start; at < r.End; {
			n, end, err := pagemapScan(w.pagemap, at, r.End, w.regions, pmScanWPMatching|pmScanCheckWPAsync, pageIsWritten)
			if err != nil {
				return nil, fmt.Errorf("ptrace: scan %#x-%#x for writes: %w", at, r.End, err)
			}
			for _, g := range w.regions[:n] {
				if k := len(out); k > 0 && out[k-1].End == g.start {
					out[k-1].End = g.end
				} else {
					out = append(out, Range{Start: g.start, End: g.end})
				}
			}
			if end <= at {
				return nil, fmt.Errorf("ptrace: scan of %#x-%#x made no progress", at, r.End)
			}
			at = end
		}
	}
	return out, nil
}

// Close ends the tracking; the stub's mappings stay registered until
// they go.
func (w *WriteTracker) Close() {
	if w.uffd >= 0 {
		unix.Close(w.uffd)
	}
	if w.pagemap >= 0 {
		unix.Close(w.pagemap)
	}
	w.uffd, w.pagemap = -1, -1
}
