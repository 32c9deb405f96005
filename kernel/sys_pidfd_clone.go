package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
)

// clonePidfd gives the parent a pidfd of its new child pid with
// CLONE_PIDFD and stores its number at out (an int). The child already
// runs, so a failure cannot undo the clone: as Linux, which makes the
// pidfd before the child exists, the guest is told through a -1 there and
// the failure is logged.
func (t *Task) clonePidfd(pid int32, out abi.Addr) {
	fd, err := t.newPidfd(pid, false)
	if err != nil {
		t.Log.Warn("clone: CLONE_PIDFD descriptor not made", "pid", pid, "error", err)
		fd = -1
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(fd))
	if _, err := t.CopyOut(out, b[:]); err != nil && fd >= 0 {
		t.Proc.FDs.Close(fd)
	}
}

// checkPidfdOut fails a CLONE_PIDFD clone whose pidfd slot cannot be
// written (EFAULT) before any child exists, as Linux's copy_process.
func (t *Task) checkPidfdOut(out abi.Addr) error {
	var b [4]byte
	if _, err := t.CopyIn(out, b[:]); err != nil {
		return err
	}
	_, err := t.CopyOut(out, b[:])
	return err
}
