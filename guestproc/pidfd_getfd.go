package guestproc

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// PidfdGetfd implements kernel.PidfdGetfdHost.
func (h *host) PidfdGetfd(pid int32, gen uint64, fd int32, uid, gid uint32, ptrace bool) (int, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpPidfdGetfd, Pid: pid, Seq: gen, Options: fd,
		Files: [][2]uint64{{uint64(uid), uint64(gid)}}, Flag: ptrace})
	if err != nil {
		return -1, err
	}
	if len(r.fds) != 1 {
		closeFDs(r.fds)
		return -1, abi.EIO
	}
	return r.fds[0], nil
}

// getfdServe answers the supervisor's MsgGetFD for this process (see
// ipc/getfd.go). It runs on its own goroutine so the reader goes on
// routing messages.
func (h *host) getfdServe(q ipc.GetFD) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	a := ipc.GetFDAnswer{ID: q.ID}
	var fds []int
	if p == nil {
		a.Errno = int32(abi.ESRCH)
	} else if fd, err := p.SharedFD(q.FD, q.UID, q.GID, q.Ptrace); err != nil {
		var e abi.Errno
		if !errors.As(err, &e) {
			e = abi.EIO
		}
		a.Errno = int32(e)
	} else {
		fds = []int{fd}
		defer unix.Close(fd)
	}
	if err := h.conn.Send(ipc.MsgGetFDAnswer, a, fds...); err != nil {
		h.log.Debug("getfd answer", "error", err)
	}
}
