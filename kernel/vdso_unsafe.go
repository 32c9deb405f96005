package kernel

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nanotime is the Go runtime's CLOCK_MONOTONIC reading (through the host's
// vDSO: tens of nanoseconds, where a raw clock_gettime syscall costs about a
// microsecond on our machines and would blur every calibration sample).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// mapVvar maps the data page's memfd shared into this process.
func mapVvar(fd int) ([]byte, error) {
	return unix.Mmap(fd, 0, vvarSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// store32 and store64 write one field of the data page atomically (the
// guest reads it concurrently, under the seqlock).
func (c *vclock) store32(off int, v uint32) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&c.page[off])), v)
}

func (c *vclock) store64(off int, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.page[off])), v)
}

func (c *vclock) load32(off int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&c.page[off])))
}
