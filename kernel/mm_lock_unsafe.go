package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostMlock2 is mlock2(2) on host memory b (x/sys/unix has no wrapper).
func hostMlock2(b []byte, flags int) error {
	if len(b) == 0 {
		return nil
	}
	_, _, e := unix.Syscall(unix.SYS_MLOCK2, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(flags))
	if e != 0 {
		return e
	}
	return nil
}
