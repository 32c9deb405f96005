package wp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ioctl arguments of wp.go, as Linux lays them out.

type uffdioAPI struct{ api, features, ioctls uint64 }

type uffdioRegister struct{ start, len, mode, ioctls uint64 }

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

// pageRegion is struct page_region: a run of pages and their categories.
type pageRegion struct{ start, end, categories uint64 }

func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// uffdAPI does UFFDIO_API asking for features and returns those granted.
func uffdAPI(fd int, features uint64) (uint64, error) {
	a := uffdioAPI{api: uffdAPIVersion, features: features}
	if _, err := ioctlPtr(fd, ioctlUffdAPI, unsafe.Pointer(&a)); err != nil {
		return 0, err
	}
	return a.features, nil
}

// uffdRegisterWP registers [start, start+length) for write protection.
func uffdRegisterWP(fd int, start, length uint64) error {
	r := uffdioRegister{start: start, len: length, mode: uffdRegisterModeWP}
	_, err := ioctlPtr(fd, ioctlUffdRegister, unsafe.Pointer(&r))
	return err
}

// pagemapScan runs PAGEMAP_SCAN over [start, end) for the pages of
// category, filling out; it returns how many regions it filled and where
// the walk stopped (end, or earlier when out filled up).
func pagemapScan(fd int, start, end uint64, out []pageRegion, flags, category uint64) (int, uint64, error) {
	a := pmScanArg{size: uint64(unsafe.Sizeof(pmScanArg{})), flags: flags, start: start, end: end,
		vec: uint64(uintptr(unsafe.Pointer(&out[0]))), vecLen: uint64(len(out)),
		categoryMask: category, returnMask: category}
	n, err := ioctlPtr(fd, ioctlPagemapScan, unsafe.Pointer(&a))
	if err != nil {
		return 0, 0, err
	}
	return int(n), a.walkEnd, nil
}
