package guestproc

// Fork from the guestproc's side: the parent asks the supervisor for a
// child and streams the image to it over the fork socket; the child reads
// the image from descriptor ipc.GuestprocForkFD and rebuilds the process.
// See package ipc for the message order.

import (
	"fmt"
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Fork implements kernel.TreeHost. The parent's own work overlaps the
// others': the supervisor makes the child while the image is built, and
// the child maps its address space while the parent copies its memory.
func (h *host) Fork(job *kernel.ForkJob) (int32, error) {
	start := time.Now()
	h.syncSubreaper()
	pending, err := h.ask(ipc.Request{Op: ipc.OpFork, ExitSignal: job.ExitSignal})
	if err != nil {
		return 0, err
	}
	img, fds, fill, buildErr := job.Build()
	tBuilt := time.Now()
	r, err := h.answer(pending)
	tCall := time.Now()
	if err != nil {
		return 0, err
	}
	if len(r.fds) != 1 {
		closeFDs(r.fds)
		h.log.Error("fork reply without exactly one socket", "fds", len(r.fds))
		return 0, abi.ENOMEM
	}
	fc := ipc.NewConn(r.fds[0])
	defer fc.Close()
	if buildErr != nil {
		// The child reads EOF instead of an image: the supervisor
		// forgets it (MsgExecFailed), the parent never saw it.
		return 0, buildErr
	}
	// Live from before the child can run (and end): wait_quiet.go.
	h.zombies.forked(r.Pid, job.ExitSignal)
	notifyR, notifyW := -1, -1
	if job.WaitExec {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			// The child waits for its image and dies with the socket.
			h.zombies.unfork(r.Pid)
			return 0, abi.ENOMEM
		}
		notifyR, notifyW = p[0], p[1]
		defer unix.Close(notifyR)
		img.Notify = len(fds)
		fds = append(fds[:len(fds):len(fds)], notifyW)
	}
	err = fc.Send(ipc.MsgForkImage, img)
	if err == nil {
		err = fc.SendFDs(fds)
	}
	if notifyW >= 0 {
		unix.Close(notifyW)
	}
	tSent := time.Now()
	if err == nil && fill != nil {
		if err = fill(); err == nil {
			err = fc.Send(ipc.MsgForkFilled, struct{}{})
		} else {
			h.log.Warn("fork: copy of the parent's memory", "error", err)
		}
	}
	tFilled := time.Now()
	if err == nil {
		_, err = fc.Expect(ipc.MsgForkReady, nil)
	}
	if err != nil {
		h.log.Warn("fork: child did not start", "pid", r.Pid, "error", err)
		h.zombies.unfork(r.Pid)
		return 0, abi.ENOMEM
	}
	if h.log.IsDebug() {
		h.log.Debug("forked", "child", r.Pid, "vfork", img.Vfork, "fds", len(fds),
			"regions", len(img.Regions), "took", time.Since(start), "built", tBuilt.Sub(start),
			"supervisor", tCall.Sub(start), "send", tSent.Sub(tCall), "fill", tFilled.Sub(tSent),
			"child", time.Since(tFilled))
	}
	if job.WaitExec {
		// Released when the child execs (it closes its end) or ends.
		var b [1]byte
		for {
			_, err := unix.Read(notifyR, b[:])
			if err != unix.EINTR {
				break
			}
		}
	}
	return r.Pid, nil
}

// startForked rebuilds the process a parent sent over the fork socket
// forkFD, on machine if one was made ahead (a warm spare).
func (h *host) startForked(k *kernel.Kernel, forkFD int, machine hvf.Machine) (*kernel.Task, error) {
	fc := ipc.NewConn(forkFD)
	defer fc.Close()
	t0 := time.Now()
	var img kernel.ForkImage
	if _, err := fc.Expect(ipc.MsgForkImage, &img); err != nil {
		return nil, fmt.Errorf("fork image: %w", err)
	}
	fds, err := fc.RecvFDs()
	if err != nil {
		return nil, fmt.Errorf("fork descriptors: %w", err)
	}
	t1 := time.Now()
	keep := -1
	if img.Notify >= 0 && img.Notify < len(fds) {
		keep = fds[img.Notify]
	}
	defer func() {
		for _, fd := range fds {
			if fd != keep {
				unix.Close(fd)
			}
		}
	}()
	// The parent copies its memory while the child maps it (RAMFollows).
	filled := func() error {
		_, err := fc.Expect(ipc.MsgForkFilled, nil)
		return err
	}
	var t *kernel.Task
	if machine != nil {
		t, err = k.StartForkedOn(machine, &img, fds, filled)
	} else {
		t, err = k.StartForked(&img, fds, filled)
	}
	if err != nil {
		if keep >= 0 {
			unix.Close(keep)
		}
		return nil, err
	}
	h.mu.Lock()
	h.vforkNotify = keep
	h.mu.Unlock()
	// The child is in its parent's process group from now on: a ^C typed
	// once the parent's fork returned must reach it. The forwarder drops
	// terminal signals until it has a process (signals.go), and the run
	// loop gives it this one only after the parent has gone on.
	forwardSignals(t, h.log)
	if err := fc.Send(ipc.MsgForkReady, struct{}{}); err != nil {
		return nil, fmt.Errorf("tell the parent: %w", err)
	}
	if h.log.IsDebug() {
		h.log.Debug("fork child ready", "received", t1.Sub(t0), "rebuilt", time.Since(t1),
			"warm", machine != nil)
	}
	return t, nil
}
