package kernel

import (
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// The namespace file ioctls (ioctl_ns(2)) on a descriptor of /proc/PID/ns,
// which is the host's nsfs file of the tree's namespaces (procfs.go): the
// host answers. Those that name a pid (NS_GET_PID_FROM_PIDNS and the like)
// would give host pids, and stay ENOTTY.
const (
	nsGetUserns   = 0xb701 // _IO(0xb7, 1): a descriptor of the owning user namespace
	nsGetParent   = 0xb702 // _IO(0xb7, 2): of the parent namespace
	nsGetNstype   = 0xb703 // _IO(0xb7, 3): its CLONE_NEW* type
	nsGetOwnerUID = 0xb704 // _IO(0xb7, 4): the owner's uid, to a uid_t
)

// nsfsIoctl serves req on host descriptor h if it is one of the above
// (ok), with the host's answer.
func (t *Task) nsfsIoctl(h int, req uint32, arg abi.Addr) (v uint64, ok bool, err error) {
	switch req {
	case nsGetUserns, nsGetParent:
		fd, err := unix.IoctlRetInt(h, uint(req))
		if err != nil {
			return 0, true, err
		}
		v, err := t.installHost(fd, true) // Linux makes it close-on-exec
		return v, true, err
	case nsGetNstype:
		n, err := unix.IoctlRetInt(h, uint(req))
		return uint64(n), true, err
	case nsGetOwnerUID:
		uid, err := unix.IoctlGetUint32(h, uint(req))
		if err != nil {
			return 0, true, err
		}
		return 0, true, t.copyOutInt32(arg, int32(uid))
	}
	return 0, false, nil
}
