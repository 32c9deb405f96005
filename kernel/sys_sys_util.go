package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
)

// copyOutABI writes v, a fixed-size kernel/abi structure (or pointer to
// one), to guest memory in its Linux little-endian layout; blank padding
// fields are written as zeros.
func copyOutABI(t *Task, addr abi.Addr, v any) error {
	b, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		return abi.EINVAL
	}
	_, err = t.CopyOut(addr, b)
	return err
}

// copyInABI reads a fixed-size kernel/abi structure from guest memory into v
// (a pointer).
func copyInABI(t *Task, addr abi.Addr, v any) error {
	n := binary.Size(v)
	if n < 0 {
		return abi.EINVAL
	}
	b := make([]byte, n)
	if _, err := t.CopyIn(addr, b); err != nil {
		return err
	}
	if _, err := binary.Decode(b, binary.LittleEndian, v); err != nil {
		return abi.EINVAL
	}
	return nil
}

// copyOutU32 writes a 32-bit value to guest memory.
func copyOutU32(t *Task, addr abi.Addr, v uint32) error {
	_, err := t.CopyOut(addr, binary.LittleEndian.AppendUint32(nil, v))
	return err
}

// copyOutU64 writes a 64-bit value to guest memory.
func copyOutU64(t *Task, addr abi.Addr, v uint64) error {
	_, err := t.CopyOut(addr, binary.LittleEndian.AppendUint64(nil, v))
	return err
}

// copyInU32 reads a 32-bit value from guest memory.
func copyInU32(t *Task, addr abi.Addr) (uint32, error) {
	var b [4]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// copyInTimespec reads a struct timespec from guest memory.
func copyInTimespec(t *Task, addr abi.Addr) (abi.Timespec, error) {
	var b [abi.SizeofTimespec]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return abi.Timespec{}, err
	}
	return abi.TimespecFromBytes(b[:]), nil
}

// copyOutTimespec writes a struct timespec to guest memory.
func copyOutTimespec(t *Task, addr abi.Addr, ts abi.Timespec) error {
	_, err := t.CopyOut(addr, ts.Bytes())
	return err
}
