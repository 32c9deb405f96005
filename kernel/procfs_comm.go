package kernel

// Writable comm files. /proc/PID/comm and /proc/PID/task/TID/comm are
// mode 0644 on Linux: writing one renames the process's main thread or
// thread TID (comm_write), which is how pthread_setname_np names a thread
// other than the caller. The name is the first 15 bytes written, up to a
// NUL, newline included ("echo foo >" names it "foo\n"); a write reports
// every byte written. The guest's descriptor is a sealed memfd of the
// file's text, as for every synthetic file, whose HostFile carries the put
// that takes the writes (sys_file_rw.go).

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// synthPut takes a write to a writable synthetic file.
type synthPut func(t *Task, b []byte) error

// openedPut is the descriptor synthOpenPut made during an open and its
// put, until the open installs it (takePut).
type openedPut struct {
	fd  int
	put synthPut
}

// commNode is the node of path p, /proc/PID/comm (tid 0) or
// /proc/PID/task/TID/comm.
func commNode(p string, tid int32) *synthNode {
	return &synthNode{path: p, kind: synthFile, perm: 0o644,
		gen: func(t *Task) ([]byte, error) {
			if tid == 0 {
				return []byte(t.Proc.Comm() + "\n"), nil
			}
			return []byte(t.procThread(tid).Comm() + "\n"), nil
		},
		put: func(t *Task, b []byte) error {
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			name := string(b[:min(len(b), abi.TASK_COMM_LEN-1)])
			if tid == 0 || tid == t.Proc.pid() && !t.Proc.threaded() {
				t.Proc.SetComm(name)
				return nil
			}
			o := t.Proc.taskByTid(tid)
			if o == nil {
				return abi.ESRCH // the thread has ended
			}
			o.SetComm(name)
			return nil
		}}
}

// unwritablePut is the put of a synthetic file that takes no writes,
// opened for writing, as Linux's procfs answers: the open succeeds where
// the mode lets the caller write (another process's comm, 0644) or the
// caller overrides it (CAP_DAC_OVERRIDE: root), and every write then
// fails, with EINVAL under /proc/PID (no write operation) and EIO for
// /proc's other files (pde_write); otherwise the open fails with EACCES.
func (t *Task) unwritablePut(n *synthNode) (synthPut, error) {
	rest, ok := strings.CutPrefix(n.path, "/proc/")
	if !ok || n.kind != synthFile {
		return nil, abi.EACCES
	}
	if n.perm&0o200 == 0 {
		c := t.Proc.Creds()
		if !c.capable(abi.CAP_DAC_OVERRIDE) {
			return nil, abi.EACCES
		}
	}
	errno := abi.EIO
	first, _, _ := strings.Cut(rest, "/")
	if _, err := strconv.Atoi(first); err == nil || first == "self" || first == "thread-self" {
		errno = abi.EINVAL
	}
	return func(*Task, []byte) error { return errno }, nil
}

// synthOpenPut opens n, which has a put, for writing: its text in a
// memfd reopened with the guest's access mode (the seals refuse host
// writes), remembered for the installer.
func (t *Task) synthOpenPut(n *synthNode, put synthPut, data []byte, how unix.OpenHow) (int, error) {
	ro, err := synthMemfd(n.path, false, data)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(ro), int(how.Flags)&unix.O_ACCMODE|unix.O_CLOEXEC, 0)
	unix.Close(ro)
	if err != nil {
		return -1, err
	}
	t.opened = openedPut{fd: fd, put: put}
	return fd, nil
}

// takePut returns the put of hostfd when this open made it
// (synthOpenPut), and forgets it.
func (t *Task) takePut(hostfd int) synthPut {
	o := t.opened
	t.opened = openedPut{}
	if o.put == nil || o.fd != hostfd {
		return nil
	}
	return o.put
}

// installPut installs a writable synthetic file.
func (t *Task) installPut(hostfd int, put synthPut, cloexec bool) (uint64, error) {
	file := newHostFile(hostfd)
	file.writeTo = put
	fd, err := t.Proc.FDs.installFile(file, cloexec, 0)
	if err != nil {
		unix.Close(hostfd)
		return 0, err
	}
	return uint64(fd), nil
}

// writePut serves a write to a writable synthetic file.
func (t *Task) writePut(f *HostFile, bufs [][]byte) (uint64, error) {
	fl, err := unix.FcntlInt(uintptr(f.FD()), unix.F_GETFL, 0)
	if err == nil && fl&unix.O_ACCMODE == unix.O_RDONLY {
		return 0, abi.EBADF
	}
	b := bytes.Join(bufs, nil)
	if err := f.writeTo(t, b); err != nil {
		return 0, err
	}
	return uint64(len(b)), nil
}
