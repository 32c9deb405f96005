package kernel

import (
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// This file holds every pointer conversion of the mm: the host window is a
// non-Go mapping seen as a []byte of limit bytes (never holding Go pointers,
// invisible to the GC), and HostAddr hands out checked host addresses.

// Window placement. A 64 TiB window is half of the host's 47-bit user
// address space, so where it goes matters: the Go heap sits at a random
// address (and grows up from it), and libraries, thread stacks and other
// small mappings are placed top-down from just under 128 TiB. Left to the
// kernel, the window lands right under those small mappings; anything mapped
// while it exists goes below it, and once it is unmapped no hole of 64 TiB
// remains for the next window. So windows are placed at the highest free
// candidate at or below windowTop, leaving [windowTop, 128 TiB) to the
// kernel's top-down allocations.
const (
	windowTop  = 124 << 40
	windowStep = 1 << 40
)

// mapWindow maps the RAM memfd fd MAP_SHARED|MAP_NORESERVE over a fresh
// host range of limit bytes and returns it as a slice indexed by guest
// address. Nothing is committed until touched.
func mapWindow(fd int, limit uint64) ([]byte, error) {
	const prot = unix.PROT_READ | unix.PROT_WRITE
	const flags = unix.MAP_SHARED | unix.MAP_NORESERVE
	if limit < windowTop {
		for at := (windowTop - limit) &^ (windowStep - 1); at >= windowStep; at -= windowStep {
			want := unsafe.Add(nil, at) // an address for the kernel, never dereferenced here
			p, err := unix.MmapPtr(fd, 0, want, uintptr(limit), prot, flags|unix.MAP_FIXED_NOREPLACE)
			if err != nil {
				continue
			}
			if p != want { // a kernel without MAP_FIXED_NOREPLACE took it as a hint
				unix.MunmapPtr(p, uintptr(limit))
				break
			}
			return unsafe.Slice((*byte)(p), limit), nil
		}
	}
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(limit), prot, flags)
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
