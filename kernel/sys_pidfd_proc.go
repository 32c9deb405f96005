package kernel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
)

// pidfdFdinfo turns the host's fdinfo of a pidfd's eventfd into Linux's
// for the pidfd (kernel/pid.c's pidfd_show_fdinfo): the eventfd's lines
// give way to the target's pid, -1 once it has been reaped.
func (t *Task) pidfdFdinfo(b []byte, pf *pidFD) []byte {
	var out strings.Builder
	for l := range strings.SplitSeq(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "eventfd-") {
			continue
		}
		out.WriteString(l + "\n")
	}
	nr := pf.pid
	if !t.pidfdAlive(pf) {
		nr = -1
	}
	fmt.Fprintf(&out, "Pid:\t%d\nNSpid:\t%d\n", nr, nr)
	return []byte(out.String())
}

// pidfdAlive reports whether the process a pidfd names still exists,
// as a zombie at least.
func (t *Task) pidfdAlive(pf *pidFD) bool {
	h, ok := t.Proc.pidfdHost()
	if !ok {
		return false
	}
	_, err := h.PidfdKill(pf.pid, pf.gen, t.userInfo(0, 0))
	return !errors.Is(err, abi.ESRCH)
}
