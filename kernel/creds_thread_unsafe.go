package kernel

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The calls below act on the calling thread only: raw system calls, never
// the syscall package's set*id, which apply to every thread of the process
// (AllThreadsSyscall).

// setThreadCreds gives the calling thread the fs ids, groups and effective
// set of want, keeping its real, effective and saved ids and its permitted
// set. The order lets it always go back: first every permitted capability
// is made effective (CAP_SETGID for setgroups and setfsgid, CAP_SETUID for
// setfsuid), then the groups and ids change, then the effective set
// becomes want's. Changing fs ids clears the thread's parent-death signal
// and the process's dumpable flag, as a set*id does on Linux; both are put
// back, as neither is the guest's (those are the kernel's records).
func setThreadCreds(h *hostIdentity, want *threadCreds) error {
	var pdeath int32
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&pdeath)), 0, 0, 0, 0); e != 0 {
		pdeath = 0
	}
	if err := capsetThread(h.perm, h.perm, h.inh); err != nil {
		return fmt.Errorf("raise effective capabilities: %w", err)
	}
	var gp unsafe.Pointer
	if len(want.groups) > 0 {
		gp = unsafe.Pointer(&want.groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(want.groups)), uintptr(gp), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if err := setFSID(unix.SYS_SETFSGID, want.fsgid); err != nil {
		return err
	}
	if err := setFSID(unix.SYS_SETFSUID, want.fsuid); err != nil {
		return err
	}
	if err := capsetThread(want.eff&h.perm, h.perm, h.inh); err != nil {
		return fmt.Errorf("set effective capabilities: %w", err)
	}
	if pdeath != 0 {
		unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(pdeath), 0, 0, 0, 0)
	}
	if h.dumpable {
		unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1, 0, 0, 0, 0)
	}
	return nil
}

// setFSID makes setfsuid or setfsgid (nr) set id, which they report only
// by the value a second call reads back.
func setFSID(nr uintptr, id uint32) error {
	unix.RawSyscall(nr, uintptr(id), 0, 0)
	if got, _, _ := unix.RawSyscall(nr, ^uintptr(0), 0, 0); uint32(got) != id {
		name := map[uintptr]string{unix.SYS_SETFSUID: "setfsuid", unix.SYS_SETFSGID: "setfsgid"}[nr]
		return fmt.Errorf("%s(%d) left %d", name, id, uint32(got))
	}
	return nil
}

// capsetThread sets the calling thread's capability sets.
func capsetThread(eff, perm, inh uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		data[i] = unix.CapUserData{Effective: uint32(eff >> (32 * i)), Permitted: uint32(perm >> (32 * i)),
			Inheritable: uint32(inh >> (32 * i))}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return e
	}
	return nil
}
