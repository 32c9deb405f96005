package guestproc

// Fork from the guestproc's side: the parent asks the supervisor for a
// child and streams the image to it over the fork socket; the child reads
// the image from descriptor ipc.GuestprocForkFD and rebuilds the process.
// See package ipc for the message order.

import (
	"errors"
	"fmt"
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Fork implements kernel.TreeHost. The parent streams the image over a
// fork socket while the supervisor picks the child's guestproc and the
// reply travels: neither waits for the other. The socket is the parent's
// fork ticket when it holds one (fork_ticket.go), whose spare already
// waits on it; else the parent makes one and sends the child's end with
// its request. The parent then waits only until the child has copied its
// memory (ForkReady), not until it has mapped it and runs.
func (h *host) Fork(job *kernel.ForkJob) (int32, error) {
	start := time.Now()
	h.syncSubreaper()
	ticketed := false
	fc := h.takeTicket()
	var pending chan reply
	var err error
	if fc != nil {
		ticketed = true
		pending, err = h.ask(ipc.Request{Op: ipc.OpFork, ExitSignal: job.ExitSignal, Ticket: true})
		if err != nil {
			fc.Close()
			return 0, err
		}
	} else if fc, pending, err = h.askFork(job); err != nil {
		return 0, err
	}
	img, fds, buildErr := job.Build()
	tBuilt := time.Now()
	if buildErr != nil {
		// The child reads EOF instead of an image: the supervisor
		// forgets it (MsgExecFailed), the parent never saw it.
		fc.Close()
		if r, err := h.answer(pending); err == nil {
			h.zombies.unfork(r.Pid)
			closeFDs(r.fds)
		}
		return 0, buildErr
	}
	pid, notifyR, err := h.sendFork(fc, pending, job, img, fds)
	if ticketed && errors.Is(err, abi.ESTALE) {
		// The ticket's spare is gone: the ordinary way, same image.
		h.log.Debug("fork: ticket unusable, forking without it")
		if fc, pending, err = h.askFork(job); err != nil {
			return 0, err
		}
		pid, notifyR, err = h.sendFork(fc, pending, job, img, fds)
	}
	for try := 1; try < forkTries && errors.Is(err, errChildLost); try++ {
		// The child's guestproc died before it had the image (a spare
		// killed from outside, the host's OOM killer): no process was
		// made, and Linux's fork would not fail for that. Again, on
		// another guestproc (the spares may all have gone at once).
		h.log.Warn("fork: the child's guestproc died before it started; forking again")
		if fc, pending, err = h.askFork(job); err != nil {
			return 0, err
		}
		pid, notifyR, err = h.sendFork(fc, pending, job, img, fds)
	}
	if err != nil {
		return 0, err
	}
	if h.log.IsDebug() {
		h.log.Debug("forked", "child", pid, "vfork", img.Vfork, "fds", len(fds), "regions", len(img.Regions),
			"ticket", ticketed, "took", time.Since(start), "built", tBuilt.Sub(start))
	}
	if notifyR >= 0 {
		// Released when the child execs (it closes its end) or ends.
		defer unix.Close(notifyR)
		if job.AwaitHangup != nil {
			job.AwaitHangup(notifyR)
		} else {
			var b [1]byte
			for {
				_, err := unix.Read(notifyR, b[:])
				if err != unix.EINTR {
					break
				}
			}
		}
	}
	return pid, nil
}

// askFork makes a fork socket and asks the supervisor for a child on it.
func (h *host) askFork(job *kernel.ForkJob) (*ipc.Conn, chan reply, error) {
	fc, theirs, err := ipc.Socketpair()
	if err != nil {
		return nil, nil, abi.EAGAIN
	}
	pending, err := h.ask(ipc.Request{Op: ipc.OpFork, ExitSignal: job.ExitSignal}, theirs.FD())
	theirs.Close()
	if err != nil {
		fc.Close()
		return nil, nil, err
	}
	return fc, pending, nil
}

// sendFork streams the image over fork socket fc (and closes it), waits
// for the child's ForkReady and the supervisor's reply, and returns the
// child's pid and, for a vfork (job.WaitExec), the read end of the notify
// pipe the caller waits on and closes (else -1).
func (h *host) sendFork(fc *ipc.Conn, pending chan reply, job *kernel.ForkJob, img *kernel.ForkImage,
	fds []int) (int32, int, error) {
	defer fc.Close()
	notifyR, notifyW := -1, -1
	if job.WaitExec {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			// The child waits for its image and dies with the socket.
			fc.Close()
			if r, err := h.answer(pending); err == nil {
				h.zombies.unfork(r.Pid)
				closeFDs(r.fds)
			}
			return 0, -1, abi.ENOMEM
		}
		notifyR, notifyW = p[0], p[1]
		img.Notify = len(fds)
		fds = append(fds[:len(fds):len(fds)], notifyW)
	}
	err := fc.SendWithFDs(ipc.MsgForkImage, img, fds)
	if notifyW >= 0 {
		unix.Close(notifyW)
	}
	if err == nil {
		_, err = fc.Expect(ipc.MsgForkReady, nil)
	}
	fail := func(err error) (int32, int, error) {
		if notifyR >= 0 {
			unix.Close(notifyR)
		}
		return 0, -1, err
	}
	// A refusal (EAGAIN past --max-procs) closes the child's end unread:
	// the reply says why. A reply that gave a pid registered the child
	// (serve); a child that never got ready is forgotten again.
	r, rerr := h.answer(pending)
	if rerr != nil {
		return fail(rerr)
	}
	closeFDs(r.fds)
	if err != nil {
		h.log.Warn("fork: child did not start", "pid", r.Pid, "error", err)
		// Its guestproc died: the supervisor would report it killed to
		// a parent that never got its pid.
		h.zombies.unfork(r.Pid)
		h.zombies.lost(r.Pid)
		h.send(ipc.Request{Op: ipc.OpUnfork, Pid: r.Pid})
		return fail(errChildLost)
	}
	return r.Pid, notifyR, nil
}

// errChildLost is a fork whose child's guestproc went away before it
// reported ready: nothing of the child was made.
var errChildLost = fmt.Errorf("fork: the child's guestproc ended before it started: %w", abi.ENOMEM)

// forkTries is how many guestprocs a fork tries when children are lost
// before the guest gets ENOMEM.
const forkTries = 4

// startForked rebuilds the process a parent sent over the fork socket
// forkFD, on machine and ram if made ahead or kept (a warm spare, a
// recycled guestproc; both taken). Its ForkReady, once the parent's memory
// is copied, commits both sides (see package ipc): a failure after it is a
// childLost, reported as the child killed.
func (h *host) startForked(k *kernel.Kernel, start *ipc.Start, forkFD int, machine hvf.Machine, ram *kernel.ChildRAM,
	assigned func() error) (t *kernel.Task, err error) {
	fc := ipc.NewConn(forkFD)
	var fds []int
	keep := -1
	defer func() {
		// The image's descriptors (the child has its own duplicates)
		// and the fork socket: on success the control socket's reader
		// closes them as it starts, on its own thread while the guest
		// runs, not on the child's way to its first instruction (~15
		// µs of closes on this host).
		var late []int
		for _, fd := range fds {
			if fd != keep {
				late = append(late, fd)
			}
		}
		if err == nil {
			h.closeLater(late, fc)
			return
		}
		closeFDs(late)
		fc.Close()
	}()
	t0 := time.Now()
	var img kernel.ForkImage
	fds, err = fc.Expect(ipc.MsgForkImage, &img)
	if err != nil {
		if unusedTicket(start, err) {
			return nil, errTicketUnused // machine and ram stay the caller's
		}
		ram.Close()
		return nil, fmt.Errorf("fork image: %w", err)
	}
	if len(fds) == 0 { // more than fit in the image's message (SendWithFDs)
		if fds, err = fc.RecvFDs(); err != nil {
			ram.Close()
			return nil, fmt.Errorf("fork descriptors: %w", err)
		}
	}
	t1 := time.Now()
	if img.Notify >= 0 && img.Notify < len(fds) {
		keep = fds[img.Notify]
	}
	// Terminal signals queue from the fork's Start on (queueSignals in
	// life.run), so a ^C typed once the parent's fork returned reaches
	// this child even before forwardSignals below.
	ready := false
	var tCopied time.Time
	copied := func() error {
		tCopied = time.Now()
		if err := fc.Send(ipc.MsgForkReady, struct{}{}); err != nil {
			return fmt.Errorf("tell the parent: %w", err)
		}
		ready = true
		return nil
	}
	if machine != nil {
		t, err = k.StartForkedOn(machine, &img, fds, ram, copied, assigned)
	} else {
		t, err = k.StartForked(&img, fds, ram, copied, assigned)
	}
	if err != nil {
		if keep >= 0 {
			unix.Close(keep)
		}
		if ready {
			return nil, childLost{err}
		}
		return nil, err
	}
	h.mu.Lock()
	h.vforkNotify = keep
	h.mu.Unlock()
	forwardSignals(t, h.log)
	if h.log.IsDebug() {
		h.log.Debug("fork child ready", "received", t1.Sub(t0), "copied", tCopied.Sub(t1),
			"rebuilt", time.Since(tCopied), "warm", machine != nil)
	}
	return t, nil
}

// childLost is a fork child's failure to start after its parent's fork
// returned its pid: the supervisor reports it as killed, not unborn.
type childLost struct{ err error }

func (c childLost) Error() string { return c.err.Error() + " (after the parent's fork returned)" }
func (c childLost) Unwrap() error { return c.err }
