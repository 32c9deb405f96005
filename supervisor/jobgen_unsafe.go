package supervisor

import (
	"sync/atomic"
	"unsafe"
)

// addJobGen increments the counter at the start of the shared page.
func addJobGen(mem []byte) {
	atomic.AddUint64((*uint64)(unsafe.Pointer(&mem[0])), 1)
}
