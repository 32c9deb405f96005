package kernel

import (
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
