package kernel

import (
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// This file holds every pointer conversion of the mm: host windows are
// non-Go mappings seen as []byte (never holding Go pointers, invisible to
// the GC), and HostAddr hands out checked host addresses.

// Window placement. A 64 TiB window is half of the host's 47-bit user
// address space, so where it goes matters: the Go heap starts at a random
// address below 64 TiB (GOEXPERIMENT randomizedheapbase64) and grows up;
// libraries, thread stacks and other small mappings are placed top-down
// from just under 128 TiB. Left to the kernel, the window lands right under
// those small mappings; anything mapped while it exists goes below it, and
// once it is unmapped no 64 TiB hole remains for the next one. So a window
// goes at the highest free candidate at or below windowTop, leaving
// [windowTop, 128 TiB) to the kernel's top-down allocations. When the heap
// sits where no contiguous window fits (a few percent of processes), the
// window is split into separately placed chunks.
const (
	windowTop  = 124 << 40
	windowStep = 1 << 40
	// minChunk is the smallest window chunk tried.
	minChunk = 1 << 40
)

// splitWindowForTest, when set, makes mapWindow use chunks of that size.
var splitWindowForTest uint64

const (
	windowProt  = unix.PROT_READ | unix.PROT_WRITE
	windowFlags = unix.MAP_SHARED | unix.MAP_NORESERVE
)

// mapWindow maps the RAM memfd fd over limit bytes of fresh host address
// space, contiguously if possible, else in chunks.
func mapWindow(fd int, limit uint64) (*hostWindow, error) {
	if splitWindowForTest == 0 {
		b, err := mapWhole(fd, limit)
		if err == nil {
			return &hostWindow{whole: b, chunk: abi.Addr(limit), chunks: [][]byte{b}}, nil
		}
		if limit <= minChunk {
			return nil, err
		}
	}
	first := limit / 2
	if splitWindowForTest != 0 {
		first = splitWindowForTest
	}
	lastErr := error(unix.ENOMEM)
	for chunk := first; chunk >= minChunk; chunk /= 2 {
		w := &hostWindow{chunk: abi.Addr(chunk)}
		for off := uint64(0); off < limit; off += chunk {
			p, err := unix.MmapPtr(fd, int64(off), nil, uintptr(chunk), windowProt, windowFlags)
			if err != nil {
				lastErr = err
				break
			}
			w.chunks = append(w.chunks, unsafe.Slice((*byte)(p), chunk))
		}
		if uint64(len(w.chunks))*chunk == limit {
			return w, nil
		}
		unmapWindow(w)
	}
	return nil, lastErr
}

// mapWhole maps a contiguous window, preferring the candidates below
// windowTop (see above).
func mapWhole(fd int, limit uint64) ([]byte, error) {
	if limit < windowTop {
		for at := (windowTop - limit) &^ (windowStep - 1); at >= windowStep; at -= windowStep {
			want := unsafe.Add(nil, at) // an address for the kernel, never dereferenced here
			p, err := unix.MmapPtr(fd, 0, want, uintptr(limit), windowProt, windowFlags|unix.MAP_FIXED_NOREPLACE)
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
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(limit), windowProt, windowFlags)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), limit), nil
}

// unmapWindow releases a window from mapWindow.
func unmapWindow(w *hostWindow) error {
	var first error
	for _, c := range w.chunks {
		if err := unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(c)), uintptr(len(c))); err != nil && first == nil {
			first = err
		}
	}
	w.chunks, w.whole = nil, nil
	return first
}

// mapOver maps fd at off MAP_SHARED|MAP_FIXED over the window range
// [addr, addr+n).
func mapOver(w *hostWindow, addr abi.Addr, n uint64, prot, fd int, off int64) error {
	return w.pieces(abi.Range{Start: addr, End: addr + abi.Addr(n)}, func(at abi.Addr, b []byte) error {
		_, err := unix.MmapPtr(fd, off+int64(at-addr), unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)), prot,
			unix.MAP_SHARED|unix.MAP_FIXED|unix.MAP_NORESERVE)
		return err
	})
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

// hostAddrOf is the host address of b's first byte (b not empty).
func hostAddrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
