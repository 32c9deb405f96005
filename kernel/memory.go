package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// Memory is guest-memory access as handlers see it. Every method checks the
// range against the process's mappings and their permissions; a partial
// access returns the count done so far together with abi.EFAULT. The host
// never faults on a bad guest pointer.
type Memory interface {
	// CopyIn reads len(dst) bytes at addr.
	CopyIn(addr abi.Addr, dst []byte) (int, error)
	// CopyOut writes src at addr.
	CopyOut(addr abi.Addr, src []byte) (int, error)
	// CopyInString reads a NUL-terminated string of at most maxLen bytes
	// (ENAMETOOLONG past it).
	CopyInString(addr abi.Addr, maxLen int) (string, error)
	// Slice returns a host view of [addr, addr+n) for zero-copy I/O; write
	// says the caller will store into it. It fails with EFAULT unless the
	// whole range is mapped with the needed permission. The view is valid
	// until the next change to the address space.
	Slice(addr abi.Addr, n int, write bool) ([]byte, error)
}

// CopyIn reads guest memory of the task's process.
func (t *Task) CopyIn(addr abi.Addr, dst []byte) (int, error) { return t.Proc.Mem.CopyIn(addr, dst) }

// CopyOut writes guest memory of the task's process.
func (t *Task) CopyOut(addr abi.Addr, src []byte) (int, error) { return t.Proc.Mem.CopyOut(addr, src) }

// CopyInString reads a guest C string.
func (t *Task) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	return t.Proc.Mem.CopyInString(addr, maxLen)
}

// Slice returns a zero-copy host view of guest memory (see Memory.Slice).
func (t *Task) Slice(addr abi.Addr, n int, write bool) ([]byte, error) {
	return t.Proc.Mem.Slice(addr, n, write)
}
