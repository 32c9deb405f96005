package kernel

// Thread names. On Linux every thread has its own comm: PR_SET_NAME (what
// pthread_setname_np uses for the calling thread) renames the caller only,
// a new thread starts with its creator's name, and /proc/PID/comm, stat and
// status show the leader's while task/TID/ show each thread's. The leader's
// name is the process's (ProcState.Comm, which fork passes on and exec
// resets); a spawned thread keeps its own in threadState.comm.

import (
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
)

// leader says whether t is its process's main thread (also a spawned
// thread that took the process id by execve).
func (t *Task) leader() bool { return !t.thread.spawned || t.Tid == t.Proc.pid() }

// Comm returns t's name (PR_GET_NAME, /proc/PID/task/TID/comm).
func (t *Task) Comm() string {
	if !t.leader() {
		if c := t.thread.comm.Load(); c != nil {
			return *c
		}
	}
	return t.Proc.Comm()
}

// SetComm renames t (PR_SET_NAME): the process when t is its leader.
func (t *Task) SetComm(name string) {
	if len(name) > abi.TASK_COMM_LEN-1 {
		name = name[:abi.TASK_COMM_LEN-1]
	}
	if t.leader() {
		t.Proc.SetComm(name)
		return
	}
	t.thread.comm.Store(&name)
}

// threadView is ownView for t's task/TID files: with t's own name.
func (t *Task) threadView() procView {
	v := t.ownView()
	v.comm = t.Comm()
	return v
}

// name is the name v shows for t's process.
func (v procView) name(t *Task) string {
	if v.comm != "" {
		return v.comm
	}
	return t.Proc.Comm()
}

// statusName is a name as status's Name: line shows it: a backslash and a
// newline escaped (Linux's seq_escape_str with "\n\\"), which a name
// written to a comm file may hold.
func statusName(s string) string {
	if !strings.ContainsAny(s, "\\\n") {
		return s
	}
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(s)
}
