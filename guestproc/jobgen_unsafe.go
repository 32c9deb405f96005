package guestproc

import (
	"sync/atomic"
	"unsafe"
)

// loadJobGen reads the counter at the start of the shared page.
func loadJobGen(mem []byte) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[0])))
}
