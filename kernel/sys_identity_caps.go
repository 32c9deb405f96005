package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Capabilities. A guest process starts with the host process's capability
// sets (a root user's full set, nothing for anyone else) and the kernel
// evolves them as Linux does: set*id calls drop and restore them
// (cap_emulate_setxuid), capset may only shrink them, and the privilege
// checks of this package (CAP_SETUID, CAP_SETGID, CAP_SYS_RESOURCE) read
// the effective set. The host threads serving the process carry its
// effective set (within the host's permitted set) for the host's own
// checks of file access (creds_thread.go).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_CAPGET: {Name: "capget", Fn: Capget, Support: Partial,
			Note: "own process only; other pids ESRCH"},
		abi.SYS_CAPSET: {Name: "capset", Fn: Capset, Support: Partial,
			Note: "own process only; the host threads serving it carry its effective set when elfuse runs as root"},
	})
}

// Caps are a process's capability sets, one bit per capability.
type Caps struct {
	Effective, Permitted, Inheritable, Bounding, Ambient uint64
}

// capFSMask are the capabilities that follow fsuid 0 (CAP_FS_MASK).
const capFSMask = 1<<abi.CAP_CHOWN | 1<<abi.CAP_DAC_OVERRIDE | 1<<abi.CAP_DAC_READ_SEARCH |
	1<<abi.CAP_FOWNER | 1<<abi.CAP_FSETID | 1<<abi.CAP_LINUX_IMMUTABLE | 1<<abi.CAP_MAC_OVERRIDE |
	1<<abi.CAP_MKNOD

// capValid is the set of capabilities Linux knows.
const capValid = 1<<(abi.CAP_LAST_CAP+1) - 1

// capable reports whether the credentials hold capability cap.
func (c *Creds) capable(cap int) bool { return c.Caps.Effective&(1<<cap) != 0 }

// hostCaps returns the host process's capability sets.
func hostCaps() Caps {
	var c Caps
	hdr := unix.CapUserHeader{Version: abi.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err == nil {
		c.Effective = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
		c.Permitted = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
		c.Inheritable = uint64(data[0].Inheritable) | uint64(data[1].Inheritable)<<32
	}
	for cp := 0; cp <= abi.CAP_LAST_CAP; cp++ {
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(cp), 0, 0, 0); err == nil && r == 1 {
			c.Bounding |= 1 << cp
		}
		if r, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(cp), 0, 0); err == nil && r == 1 {
			c.Ambient |= 1 << cp
		}
	}
	return c
}

// fixCapsAfterSetID is Linux's cap_emulate_setxuid: losing uid 0 from all of
// ruid, euid and suid drops the permitted and effective sets (unless
// PR_SET_KEEPCAPS) and the ambient set; leaving euid 0 drops the effective
// set and returning to it restores it from the permitted set.
func fixCapsAfterSetID(old, c *Creds, keepCaps bool) {
	hadRoot := old.RUID == 0 || old.EUID == 0 || old.SUID == 0
	hasRoot := c.RUID == 0 || c.EUID == 0 || c.SUID == 0
	if hadRoot && !hasRoot {
		if !keepCaps {
			c.Caps.Permitted, c.Caps.Effective = 0, 0
		}
		c.Caps.Ambient = 0
	}
	if old.EUID == 0 && c.EUID != 0 {
		c.Caps.Effective = 0
	}
	if old.EUID != 0 && c.EUID == 0 {
		c.Caps.Effective = c.Caps.Permitted
	}
}

// fixCapsAfterSetFSID drops the file-system capabilities when fsuid leaves 0
// and raises the permitted ones again when it returns.
func fixCapsAfterSetFSID(old, c *Creds) {
	if old.FSUID == 0 && c.FSUID != 0 {
		c.Caps.Effective &^= capFSMask
	}
	if old.FSUID != 0 && c.FSUID == 0 {
		c.Caps.Effective |= c.Caps.Permitted & capFSMask
	}
}

// capHeader reads and validates a capget/capset header. words is the
// number of 32-bit words per set the version uses. An unknown version is
// answered with the preferred one written back and EINVAL, as Linux does.
func capHeader(t *Task, hdr abi.Addr) (words int, pid int32, err error) {
	var b [8]byte
	if _, err := t.CopyIn(hdr, b[:]); err != nil {
		return 0, 0, err
	}
	switch binary.LittleEndian.Uint32(b[0:]) {
	case abi.LINUX_CAPABILITY_VERSION_1:
		words = 1
	case abi.LINUX_CAPABILITY_VERSION_2, abi.LINUX_CAPABILITY_VERSION_3:
		words = 2
	default:
		if err := copyOutU32(t, hdr, abi.LINUX_CAPABILITY_VERSION_3); err != nil {
			return 0, 0, err
		}
		return 0, 0, abi.EINVAL
	}
	return words, int32(binary.LittleEndian.Uint32(b[4:])), nil
}

// Capget implements Linux syscall capget(2).
func Capget(t *Task, a *Args) (uint64, error) {
	words, pid, err := capHeader(t, a.Addr(0))
	if a.Addr(1) == 0 && (err == nil || err == abi.EINVAL) {
		return 0, nil // probing for the version
	}
	if err != nil {
		return 0, err
	}
	if pid < 0 {
		return 0, abi.EINVAL
	}
	if !t.ownPid(pid) {
		return 0, abi.ESRCH
	}
	c := t.Proc.Creds().Caps
	out := make([]byte, 0, 12*words)
	for w := range words {
		shift := 32 * w
		out = binary.LittleEndian.AppendUint32(out, uint32(c.Effective>>shift))
		out = binary.LittleEndian.AppendUint32(out, uint32(c.Permitted>>shift))
		out = binary.LittleEndian.AppendUint32(out, uint32(c.Inheritable>>shift))
	}
	_, err = t.CopyOut(a.Addr(1), out)
	return 0, err
}

// Capset implements Linux syscall capset(2): the calling process may keep
// or drop capabilities, and move permitted ones into its inheritable set.
func Capset(t *Task, a *Args) (uint64, error) {
	words, pid, err := capHeader(t, a.Addr(0))
	if err != nil {
		return 0, err
	}
	if !t.ownPid(pid) {
		return 0, abi.EPERM
	}
	in := make([]byte, 12*words)
	if _, err := t.CopyIn(a.Addr(1), in); err != nil {
		return 0, err
	}
	var eff, perm, inh uint64
	for w := range words {
		shift := 32 * w
		eff |= uint64(binary.LittleEndian.Uint32(in[12*w:])) << shift
		perm |= uint64(binary.LittleEndian.Uint32(in[12*w+4:])) << shift
		inh |= uint64(binary.LittleEndian.Uint32(in[12*w+8:])) << shift
	}
	eff, perm, inh = eff&capValid, perm&capValid, inh&capValid
	return 0, t.Proc.updateCreds(func(c *Creds) error {
		old := c.Caps
		if !c.capable(abi.CAP_SETPCAP) && inh&^(old.Inheritable|old.Permitted) != 0 {
			return abi.EPERM
		}
		if inh&^(old.Inheritable|old.Bounding) != 0 {
			return abi.EPERM
		}
		if perm&^old.Permitted != 0 || eff&^perm != 0 {
			return abi.EPERM
		}
		c.Caps.Effective, c.Caps.Permitted, c.Caps.Inheritable = eff, perm, inh
		c.Caps.Ambient &= perm & inh
		return nil
	})
}
