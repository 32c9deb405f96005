package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostFchmodat2 runs fchmodat2(dirfd, path, mode, flags) on the host
// (Linux 6.6; ENOSYS on older hosts).
func hostFchmodat2(dirfd int, path string, mode uint32, flags int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode), uintptr(flags), 0, 0); e != 0 {
		return e
	}
	return nil
}
