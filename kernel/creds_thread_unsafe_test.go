package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadPdeathsig returns the calling thread's parent-death signal.
func threadPdeathsig() int {
	var sig int32
	unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0)
	return int(sig)
}
