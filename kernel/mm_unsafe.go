package kernel

import (
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// This file holds every pointer conversion of the mm: the host window is a
// non-Go mapping seen as a []byte of limit bytes (never holding Go pointers,
// invisible to the GC), and HostAddr hands out checked host addresses.

// mapWindow maps the RAM memfd fd MAP_SHARED|MAP_NORESERVE over a fresh
// host range of limit bytes and returns it as a slice indexed by guest
// address. Nothing is committed until touched.
func mapWindow(fd int, limit uint64) ([]byte, error) {
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(limit),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), limit), nil
}

// unmapWindow releases a window from mapWindow.
func unmapWindow(w []byte) error {
	return unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(w)), uintptr(len(w)))
}

// mapOver maps fd at off MAP_SHARED|MAP_FIXED over window[addr, addr+n).
func mapOver(w []byte, addr abi.Addr, n uint64, prot, fd int, off int64) error {
	if n == 0 {
		return nil
	}
	_, err := unix.MmapPtr(fd, off, unsafe.Pointer(&w[addr]), uintptr(n), prot,
		unix.MAP_SHARED|unix.MAP_FIXED|unix.MAP_NORESERVE)
	return err
}

// hostMincore runs mincore(2) on the window bytes b into vec.
func hostMincore(b []byte, vec []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))),
		uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if e != 0 {
		return e
	}
	return nil
}

// HostAddr returns the host address of guest range [addr, addr+n) after
// checking that it is mapped with read (and, if write, write) permission;
// EFAULT otherwise. Futexes use it to wait on the guest word itself. The
// address stays valid until the range is unmapped.
func (m *MM) HostAddr(addr abi.Addr, n int, write bool) (uintptr, error) {
	b, err := m.Slice(addr, n, write)
	if err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, abi.EFAULT
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b))), nil
}
