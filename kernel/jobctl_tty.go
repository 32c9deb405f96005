package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// ttyPgrp serves TIOCGPGRP and TIOCSPGRP on the controlling terminal
// through th, in guest process group ids.
func (t *Task) ttyPgrp(th TerminalHost, req uint32, arg abi.Addr) (uint64, error) {
	if req == abi.TIOCGPGRP {
		pg, err := th.Tcgetpgrp()
		if err != nil {
			return 0, err
		}
		return 0, t.copyOutInt32(arg, pg)
	}
	pg, err := t.copyInInt32(arg)
	if err != nil {
		return 0, err
	}
	return 0, th.Tcsetpgrp(pg)
}
