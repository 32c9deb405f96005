package kernel

// STUB: owned by the mm helper, replaced wholesale.

import (
	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// MM is a guest address space.
type MM struct{}

// NewMM creates an empty address space of [0, limit) on machine.
func NewMM(m hvf.Machine, limit abi.Addr) (*MM, error) { return &MM{}, nil }

func (m *MM) CopyIn(addr abi.Addr, dst []byte) (int, error)  { return 0, abi.EFAULT }
func (m *MM) CopyOut(addr abi.Addr, src []byte) (int, error) { return 0, abi.EFAULT }
func (m *MM) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	return "", abi.EFAULT
}
func (m *MM) Slice(addr abi.Addr, n int, write bool) ([]byte, error) { return nil, abi.EFAULT }

// Close releases the address space.
func (m *MM) Close() error { return nil }
