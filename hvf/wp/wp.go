// Package wp tells which pages of an address space were written since the
// last look, with userfaultfd's asynchronous write protection
// (UFFD_FEATURE_WP_ASYNC) and PAGEMAP_SCAN (Linux 6.7): a write to a
// protected page is resolved in the writer's own page fault, with no
// message to read, and leaves the page unprotected; PAGEMAP_SCAN with
// PM_SCAN_WP_MATCHING reports the unprotected pages of a range and
// protects them again, in one pass.
//
// The userfaultfd belongs to the address space that made it (the stub's,
// for hvf/ptrace: made by an injected syscall and taken with
// pidfd_getfd; this process's own for its window onto guest RAM); its
// ioctls act on that address space whoever makes them, and the pagemap is
// that process's /proc/PID/pagemap.
//
// A page table entry without a protection marker reads as written: one
// never made, one of a mapping made since the last scan (each range is
// registered again as its scan starts, which changes nothing for what was
// registered), one zapped by reclaim after a write. A scan errs only
// towards more, never less. Writes that do not go through that address
// space's page tables (through a descriptor of the file, through another
// process's mapping) are not seen.
package wp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Linux ABI of userfaultfd and PAGEMAP_SCAN (not in x/sys/unix).
const (
	// UserModeOnly is userfaultfd(2)'s UFFD_USER_MODE_ONLY flag.
	UserModeOnly       = 1
	uffdAPIVersion     = 0xaa
	uffdFeatureWPShmem = 1 << 12 // UFFD_FEATURE_WP_HUGETLBFS_SHMEM
	uffdFeatureWPAsync = 1 << 15 // UFFD_FEATURE_WP_ASYNC
	uffdRegisterModeWP = 1 << 1
	ioctlUffdAPI       = 0xc018aa3f // _IOWR(0xAA, 0x3F, struct uffdio_api)
	ioctlUffdRegister  = 0xc020aa00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	ioctlPagemapScan   = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanWPMatching   = 1 << 0
	pmScanCheckWPAsync = 1 << 1
	pageIsWritten      = 1 << 1
	regionsMax         = 256
	pageSize           = 4096
)

// ErrUnsupported wraps the failures that say the host cannot track writes
// this way (a kernel before 6.7, userfaultfd forbidden).
var ErrUnsupported = errors.New("write tracking unsupported")

// Range is a span of addresses, [Start, End), page aligned.
type Range struct{ Start, End uint64 }

// Tracker reports the pages of an address space written since its
// previous report on them.
type Tracker struct {
	uffd    int
	pagemap int
	regions []pageRegion // scratch for PAGEMAP_SCAN
}

// New makes a Tracker of the userfaultfd uffd (taken: closed on failure)
// and the pagemap file at pagemapPath, both of the same address space.
func New(uffd int, pagemapPath string) (*Tracker, error) {
	t := &Tracker{uffd: uffd, pagemap: -1}
	features, err := uffdAPI(uffd, uffdFeatureWPAsync|uffdFeatureWPShmem)
	if err == nil && features&uffdFeatureWPAsync == 0 {
		err = unix.EOPNOTSUPP
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("asynchronous write protection: %v: %w", err, ErrUnsupported)
	}
	if t.pagemap, err = unix.Open(pagemapPath, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		t.Close()
		return nil, fmt.Errorf("open %s: %w", pagemapPath, err)
	}
	t.regions = make([]pageRegion, regionsMax)
	// PAGEMAP_SCAN on one page below any mapping: an older kernel does
	// not know the ioctl.
	if _, _, err := pagemapScan(t.pagemap, 0, pageSize, t.regions, 0, pageIsWritten); err != nil {
		t.Close()
		return nil, fmt.Errorf("PAGEMAP_SCAN: %v: %w", err, ErrUnsupported)
	}
	return t, nil
}

// NewSelf tracks this process's own writes.
func NewSelf() (*Tracker, error) {
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|UserModeOnly, 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("userfaultfd: %v: %w", e, ErrUnsupported)
	}
	return New(int(fd), "/proc/self/pagemap")
}

// Written returns the pages of ranges (each mapped, by one mapping or by
// several of the same kind) written since the previous call that covered
// them, and protects them again: all of a range the first time, and all
// of a part mapped anew since. A range that is not mapped, or is mapped
// in a way write protection does not cover, is an error: nothing can be
// told there.
func (t *Tracker) Written(ranges []Range) ([]Range, error) {
	var out []Range
	for _, r := range ranges {
		if r.Start >= r.End {
			continue
		}
		if err := uffdRegisterWP(t.uffd, r.Start, r.End-r.Start); err != nil {
			return nil, fmt.Errorf("register %#x-%#x for write tracking: %w", r.Start, r.End, err)
		}
		for at := r.Start; at < r.End; {
			n, end, err := pagemapScan(t.pagemap, at, r.End, t.regions, pmScanWPMatching|pmScanCheckWPAsync, pageIsWritten)
			if err != nil {
				return nil, fmt.Errorf("scan %#x-%#x for writes: %w", at, r.End, err)
			}
			for _, g := range t.regions[:n] {
				if k := len(out); k > 0 && out[k-1].End == g.start {
					out[k-1].End = g.end
				} else {
					out = append(out, Range{Start: g.start, End: g.end})
				}
			}
			if end <= at {
				return nil, fmt.Errorf("scan of %#x-%#x made no progress", at, r.End)
			}
			at = end
		}
	}
	return out, nil
}

// Close ends the tracking; the mappings stay registered until they go.
func (t *Tracker) Close() {
	if t.uffd >= 0 {
		unix.Close(t.uffd)
	}
	if t.pagemap >= 0 {
		unix.Close(t.pagemap)
	}
	t.uffd, t.pagemap = -1, -1
}
