package kernel

// /proc/PID/oom_score_adj and its legacy form oom_adj: the value the host's
// OOM killer would weigh the process by, kept per process (inherited over
// fork, kept over exec) and writable by the process itself as on Linux:
// -1000 to 1000, and below the floor it has (0 at first) only with
// CAP_SYS_RESOURCE, whose writes also set the floor (__set_oom_adj). The
// host process's own value is not changed: the guest's memory is the
// guestproc's, and what the host's OOM killer does to it stays elfuse's.

import (
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
)

const (
	oomScoreAdjMin = -1000
	oomScoreAdjMax = 1000
	oomAdjMin      = -17 // OOM_DISABLE
	oomAdjMax      = 15
)

// oomNode is /proc/PID/oom_score_adj (legacy false) or oom_adj.
func oomNode(p string, legacy bool) *synthNode {
	return &synthNode{path: p, kind: synthFile, perm: 0o644,
		gen: func(t *Task) ([]byte, error) {
			v := t.Proc.State().OomScoreAdj
			if legacy {
				v = oomAdjOf(v)
			}
			return []byte(strconv.Itoa(int(v)) + "\n"), nil
		},
		put: func(t *Task, b []byte) error {
			v, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return abi.EINVAL
			}
			if legacy {
				if v < oomAdjMin || v > oomAdjMax {
					return abi.EINVAL
				}
				v = int(oomScoreAdjOf(int32(v)))
			} else if v < oomScoreAdjMin || v > oomScoreAdjMax {
				return abi.EINVAL
			}
			return t.Proc.setOomScoreAdj(int32(v), legacy)
		}}
}

// setOomScoreAdj sets the process's oom_score_adj (see the file comment).
func (p *Process) setOomScoreAdj(v int32, legacy bool) error {
	x := p.ext()
	x.mu.Lock()
	defer x.mu.Unlock()
	privileged := x.st.Creds.capable(abi.CAP_SYS_RESOURCE)
	if v < x.st.OomScoreAdjMin && !privileged {
		return abi.EACCES
	}
	x.st.OomScoreAdj = v
	if privileged && !legacy {
		x.st.OomScoreAdjMin = v
	}
	return nil
}

// oomAdjOf is the legacy oom_adj shown for an oom_score_adj.
func oomAdjOf(v int32) int32 {
	if v == oomScoreAdjMax {
		return oomAdjMax
	}
	return v * -oomAdjMin / oomScoreAdjMax
}

// oomScoreAdjOf is the oom_score_adj a legacy oom_adj write sets.
func oomScoreAdjOf(v int32) int32 {
	if v == oomAdjMax {
		return oomScoreAdjMax
	}
	return v * oomScoreAdjMax / -oomAdjMin
}
