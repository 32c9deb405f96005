package hvf

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The only unsafe code of the KVM backend: ioctls that take a pointer to a
// UAPI struct, the atomic immediate_exit store into the shared kvm_run page,
// and the []uint64 view of the system area (page tables, stacks).

// ioctlPtr issues a pointer-argument ioctl, retrying on EINTR.
func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func kvmGetSupportedCPUIDIoctl(kvmfd int) (*kvmCPUID2, error) {
	c := &kvmCPUID2{Nent: kvmCPUIDMax}
	if err := ioctlPtr(kvmfd, kvmGetSupportedCPUID, unsafe.Pointer(c)); err != nil {
		return nil, err
	}
	return c, nil
}

func kvmSetCPUID2Ioctl(vcpufd int, c *kvmCPUID2) error {
	return ioctlPtr(vcpufd, kvmSetCPUID2, unsafe.Pointer(c))
}

func kvmSetUserMemoryRegionIoctl(vmfd int, r *kvmUserspaceMemoryRegion) error {
	return ioctlPtr(vmfd, kvmSetUserMemoryRegion, unsafe.Pointer(r))
}

func kvmGetSregsIoctl(vcpufd int, s *kvmSregs) error {
	return ioctlPtr(vcpufd, kvmGetSregs, unsafe.Pointer(s))
}

func kvmSetSregsIoctl(vcpufd int, s *kvmSregs) error {
	return ioctlPtr(vcpufd, kvmSetSregs, unsafe.Pointer(s))
}

func kvmSetXCRsIoctl(vcpufd int, x *kvmXCRs) error {
	return ioctlPtr(vcpufd, kvmSetXCRs, unsafe.Pointer(x))
}

// kvmMSRIoctl runs KVM_GET_MSRS or KVM_SET_MSRS and checks that every entry
// was processed (the ioctl returns the count).
func kvmMSRIoctl(vcpufd int, req uintptr, m *kvmMSRs) error {
	for {
		n, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(vcpufd), req, uintptr(unsafe.Pointer(m)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if uint32(n) != m.NMSRs {
			return unix.EINVAL
		}
		return nil
	}
}

// kvmSetTSCOffsetIoctl sets the guest TSC offset (Linux 5.16+).
func kvmSetTSCOffsetIoctl(vcpufd int, offset uint64) error {
	v := new(uint64)
	*v = offset
	a := kvmDeviceAttr{Group: kvmVCPUTSCCtrl, Attr: kvmVCPUTSCOffset, Addr: uint64(uintptr(unsafe.Pointer(v)))}
	err := ioctlPtr(vcpufd, kvmSetDeviceAttr, unsafe.Pointer(&a))
	runtime.KeepAlive(v)
	return err
}

func kvmXSaveIoctl(vcpufd int, req uintptr, b *[kvmXSaveSize]byte) error {
	return ioctlPtr(vcpufd, req, unsafe.Pointer(b))
}

// setImmediateExit stores run->immediate_exit atomically: Kick writes it
// from another thread while KVM reads it. The 32-bit word at offset 0 holds
// request_interrupt_window (always 0 here), immediate_exit and padding.
func setImmediateExit(run []byte, on bool) {
	var v uint32
	if on {
		v = 1 << (8 * runImmediateExit)
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&run[0])), v)
}

// wordsOf views a page-aligned host mapping as 64-bit words. Stores through
// the view are single aligned 8-byte moves, so a vCPU walking a page table
// never sees a torn entry.
func wordsOf(b []byte) []uint64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

// hostAddr is the host virtual address of b's first byte.
func hostAddr(b []byte) uintptr {
	return uintptr(unsafe.Pointer(&b[0]))
}
