package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// hostFutexWait blocks in the host's futex(addr, op, val, &deadline, NULL,
// bitset); op is a FUTEX_WAIT_BITSET form, so deadline is absolute.
func hostFutexWait(addr uintptr, op int32, val uint32, deadline abi.Timespec, bitset uint32) (uint64, error) {
	ts := unix.Timespec{Sec: deadline.Sec, Nsec: deadline.Nsec}
	r, _, e := unix.Syscall6(unix.SYS_FUTEX, addr, uintptr(op), uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, uintptr(bitset))
	if e != 0 {
		return 0, e
	}
	return uint64(r), nil
}

// atomicLoad32 atomically loads the 32-bit word b views (4 aligned bytes of
// guest memory).
func atomicLoad32(b []byte) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(unsafe.SliceData(b[:4]))))
}

// atomicCAS32 atomically compares and swaps the 32-bit word b views.
func atomicCAS32(b []byte, old, new uint32) bool {
	return atomic.CompareAndSwapUint32((*uint32)(unsafe.Pointer(unsafe.SliceData(b[:4]))), old, new)
}
