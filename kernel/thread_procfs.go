package kernel

// /proc/<pid>/task/<tid>/stat and status: the files that name a thread
// (comm is procfs_comm.go's).
// They are the process's files with the thread's own id where Linux puts
// it (stat's first field, status's Pid:) and that thread's signal state.

import (
	"strconv"
	"strings"
)

// procTaskGen returns the generator of /proc/<pid>/task/<tid>/name for
// the files that differ per thread, nil for the others.
func procTaskGen(name string, tid int32) func(*Task) ([]byte, error) {
	switch name {
	case "stat":
		return func(t *Task) ([]byte, error) {
			o := t.procThread(tid)
			s := o.procStat(o.threadView())
			if rest, ok := strings.CutPrefix(s, strconv.Itoa(int(t.guestPid()))+" "); ok {
				s = strconv.Itoa(int(tid)) + " " + rest
			}
			return []byte(s), nil
		}
	case "status":
		return func(t *Task) ([]byte, error) {
			o := t.procThread(tid)
			s := o.procStatus(o.threadView())
			pid := "\nPid:\t" + strconv.Itoa(int(t.guestPid())) + "\n"
			s = strings.Replace(s, pid, "\nPid:\t"+strconv.Itoa(int(tid))+"\n", 1)
			return []byte(s), nil
		}
	}
	return nil
}

// procThread returns the live thread tid of t's process, or t.
func (t *Task) procThread(tid int32) *Task {
	if o := t.Proc.taskByTid(tid); o != nil {
		return o
	}
	return t
}
