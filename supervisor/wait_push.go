package supervisor

// Zombies pushed to their parent: the child event for an ended child
// carries what a wait for it reports, so the parent's guestproc can reap it
// without an OpWait round trip (guestproc/wait_push.go). It then sends
// OpReap, which Tree.Reap serves; the supervisor handles one guestproc's
// messages in order, so a later OpWait of the parent finds it gone.

import (
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// zombieReport is the wait report of an ended child, as the tree had it
// when the child became a zombie of its current parent.
type zombieReport struct {
	Status     uint32
	Code       int32
	Rusage     abi.Rusage
	Pgid       int32
	ExitSignal int32
}

// zombieReportLocked describes zombie c for a child event.
// Preconditions: t.mu held; c is a zombie.
func zombieReportLocked(c *Proc) *zombieReport {
	code, _ := childCode(c.Status)
	return &zombieReport{Status: c.Status, Code: code, Rusage: c.Rusage, Pgid: c.Pgid, ExitSignal: c.ExitSignal}
}

// ipcReport converts a report for the wire (nil stays nil).
func (z *zombieReport) ipcReport() *ipc.ZombieReport {
	if z == nil {
		return nil
	}
	return &ipc.ZombieReport{Status: z.Status, Code: z.Code, Rusage: z.Rusage, Pgid: z.Pgid, ExitSignal: z.ExitSignal}
}
