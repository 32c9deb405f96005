package kernel

// Routing kill, tkill, tgkill and rt_(tg)sigqueueinfo to other processes
// through the supervisor's tree. The handlers in sys_signal_send.go keep
// signals to the caller itself local and call routeSignal for the rest.

import "github.com/elfuse/elfuse/kernel/abi"

// routeSignal sends info to the kill(2) selector pid (or, with thread, to
// thread pid of process tgid) through the tree. ok is false when there is
// no tree (the caller applies its single-process rules). When the caller
// is among the targets, the signal is queued here, before the syscall
// returns, as Linux does for kill(0, sig).
func (t *Task) routeSignal(pid, tgid int32, thread bool, info *abi.Siginfo) (ok bool, err error) {
	th, ok := t.Proc.treeHost()
	if !ok {
		return false, nil
	}
	self, err := th.Kill(pid, tgid, thread, info)
	if err != nil {
		return true, err
	}
	if self && info.Signo != 0 {
		if thread {
			return true, t.queueSignal(info, false)
		}
		return true, t.Proc.queueShared(t, info)
	}
	return true, nil
}
