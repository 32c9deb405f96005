package kernel

import (
	"unsafe"

	"github.com/elfuse/elfuse/kernel/abi"
)

// HostAddr gives procTestMem the mm contract futex uses: the host address of
// the test buffer's bytes (Go heap memory does not move).
func (m *procTestMem) HostAddr(addr abi.Addr, n int, write bool) (uintptr, error) {
	off, got := m.span(addr, n)
	if got < n {
		return 0, abi.EFAULT
	}
	return uintptr(unsafe.Pointer(&m.buf[off])), nil
}
