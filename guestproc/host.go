package guestproc

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// host implements kernel.Host, kernel.TreeHost and the kernel's session
// hooks for one guest process by talking to the supervisor over the
// control socket. Requests come from the vCPU thread and block it; a
// reader goroutine (serve) takes every message the supervisor sends,
// routes Replies to the waiting request by ID and applies asynchronous
// ones (signals, reparenting, child events).
type host struct {
	pid  int32
	ppid atomic.Int32
	conn *ipc.Conn
	log  hclog.Logger
	cfg  ipc.Start

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan reply
	// forks are the pending fork requests, with the child's exit signal:
	// serve registers the child (zombies.forked) as it hands out the
	// reply, before any later message about the child (guestproc/fork.go).
	forks map[uint64]int32
	proc  *kernel.Process // set once the process exists
	// events is closed and replaced at every child state change.
	events chan struct{}
	// dead is closed when the control socket fails.
	dead chan struct{}
	// vforkNotify is the write end of a vfork parent's notify pipe (-1).
	vforkNotify int
	// subreaper is the PR_SET_CHILD_SUBREAPER flag last told to the
	// supervisor.
	subreaper bool
	// procCalls routes answers to /proc lookups (procfs.go).
	procCalls procCalls
	job       jobState // jobctl.go
	// zombies are the ended children wait can reap locally (wait_push.go).
	zombies zombies
	// text: the image files to report once Started is sent (textbusy.go).
	text textReport
	// clock is the host CPU time when the process's life began (set
	// before the process runs; usage.go).
	clock lifeClock
	// ticket is the fork ticket for the next fork (nil: none); none is
	// kept once ticketsOver, when the process ended (fork_ticket.go).
	ticket      *ipc.Conn
	ticketsOver bool
	// late and lateConn are what a fork child's start leaves for serve
	// to close (closeLater).
	late     []int
	lateConn *ipc.Conn
}

type reply struct {
	ipc.Reply
	fds []int
}

func newHost(conn *ipc.Conn, start ipc.Start, log hclog.Logger) *host {
	h := &host{pid: start.Pid, conn: conn, log: log, cfg: start, pending: map[uint64]chan reply{}, forks: map[uint64]int32{},
		events: make(chan struct{}), dead: make(chan struct{}), vforkNotify: -1}
	h.ppid.Store(start.Ppid)
	return h
}

func (h *host) Pid() int32  { return h.pid }
func (h *host) Ppid() int32 { return h.ppid.Load() }

// Exit is reported by Main after the run loop returns, with the usage and
// the process's last name (for /proc of its zombie) in one message.
func (h *host) Exit(status uint32) {}

// ReleaseVfork resumes a vfork parent at execve's point of no return
// (releaseVforkParent, spawn_recycle.go).
func (h *host) ReleaseVfork() { h.releaseVforkParent() }

// Execed tells the supervisor about the new image and releases a vfork
// parent still waiting.
func (h *host) Execed(exe string, argv []string) {
	h.releaseVforkParent()
	h.send(ipc.Request{Op: ipc.OpExeced, Exe: exe, Argv: argv, Files: h.takeExecFiles()}) // textbusy.go
}

func (h *host) setProcess(p *kernel.Process) {
	h.mu.Lock()
	h.proc = p
	h.mu.Unlock()
}

// send sends a request that gets no reply.
func (h *host) send(req ipc.Request) {
	if err := h.conn.Send(ipc.MsgRequest, req); err != nil {
		h.log.Debug("request to supervisor", "op", req.Op, "error", err)
	}
}

// call sends a request and waits for its reply. Errors from the supervisor
// come back as abi.Errno; a dead supervisor gives EIO (this process is
// about to be killed anyway).
func (h *host) call(req ipc.Request) (reply, error) {
	t0 := time.Now()
	defer func() { kernel.CountStat("call:"+string(req.Op), time.Since(t0)) }()
	ch, err := h.ask(req)
	if err != nil {
		return reply{}, err
	}
	return h.answer(ch)
}

// ask sends req (with descriptors fds) without waiting; answer(ch) then
// waits for its reply, so the caller can work in between.
func (h *host) ask(req ipc.Request, fds ...int) (chan reply, error) {
	ch := make(chan reply, 1)
	h.mu.Lock()
	h.nextID++
	req.ID = h.nextID
	h.pending[req.ID] = ch
	if req.Op == ipc.OpFork {
		h.forks[req.ID] = req.ExitSignal
	}
	h.mu.Unlock()
	if err := h.conn.Send(ipc.MsgRequest, req, fds...); err != nil {
		h.mu.Lock()
		delete(h.pending, req.ID)
		delete(h.forks, req.ID)
		h.mu.Unlock()
		h.log.Error("request to supervisor", "op", req.Op, "error", err)
		return nil, abi.EIO
	}
	return ch, nil
}

// answer waits for the reply of a request ask sent.
func (h *host) answer(ch chan reply) (reply, error) {
	select {
	case r := <-ch:
		if r.Errno != 0 {
			closeFDs(r.fds)
			return r, abi.Errno(r.Errno)
		}
		return r, nil
	case <-h.dead:
		return reply{}, abi.EIO
	}
}

// serve reads the control socket until it fails (the supervisor died or
// closed it: the process ends with SIGKILL, as Pdeathsig would do).
func (h *host) serve() {
	defer close(h.dead)
	h.closeLate()
	for {
		var raw ipc.Raw
		t, fds, err := h.conn.Recv(&raw)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				h.log.Error("control socket", "error", err)
			}
			return
		}
		switch t {
		case ipc.MsgReply:
			var r ipc.Reply
			if err := decode(raw, &r); err != nil {
				closeFDs(fds)
				continue
			}
			h.mu.Lock()
			ch := h.pending[r.ID]
			delete(h.pending, r.ID)
			sig, fork := h.forks[r.ID]
			delete(h.forks, r.ID)
			h.mu.Unlock()
			if fork && r.Errno == 0 {
				// Live from before the child can run and end (its exit
				// comes after this reply): wait_quiet.go.
				h.zombies.forked(r.Pid, sig)
			}
			if ch == nil {
				closeFDs(fds)
				continue
			}
			ch <- reply{Reply: r, fds: fds}
		case ipc.MsgSignal:
			closeFDs(fds)
			var s ipc.Signal
			if decode(raw, &s) == nil {
				h.signal(s)
			}
		case ipc.MsgReparent:
			closeFDs(fds)
			var r ipc.Reparent
			if decode(raw, &r) == nil {
				h.ppid.Store(r.Ppid)
			}
		case ipc.MsgChildEvent:
			if len(fds) > 0 {
				// The fork ticket the exit made (supervisor's
				// spawn_ticket.go), kept before the exit is
				// told, so that the next fork finds it.
				h.keepTicket(fds)
			}
			var e ipc.ChildEvent
			if decode(raw, &e) == nil {
				h.childEvent(e)
			}
		case ipc.MsgTicket:
			h.keepTicket(fds) // fork_ticket.go
		case ipc.MsgStart:
			// The next process of a recycled guestproc (spawn_recycle.go).
			if h.handOff(raw, fds) {
				return
			}
		case ipc.MsgDescribe:
			closeFDs(fds)
			var d ipc.Describe
			if decode(raw, &d) == nil {
				go h.describe(d) // describe.go
			}
		case ipc.MsgProcQuery:
			closeFDs(fds)
			var q ipc.ProcQuery
			if decode(raw, &q) == nil {
				go h.procServe(q) // procfs.go
			}
		case ipc.MsgProcAnswer:
			closeFDs(fds)
			var a ipc.ProcAnswer
			if decode(raw, &a) == nil {
				h.procAnswered(a)
			}
		case ipc.MsgGetFD:
			closeFDs(fds)
			var q ipc.GetFD
			if decode(raw, &q) == nil {
				go h.getfdServe(q) // pidfd_getfd.go
			}
		default:
			closeFDs(fds)
			h.log.Warn("unexpected message from supervisor", "type", t)
		}
	}
}

// signal queues a signal another process sent.
func (h *host) signal(s ipc.Signal) {
	if s.Sig == abi.SIGCONT && s.Seq != 0 {
		info := &abi.Siginfo{Signo: s.Sig}
		if len(s.Info) == abi.SizeofSiginfo {
			info.UnmarshalBytes(s.Info)
			info.Signo = s.Sig
		}
		h.continueSignal(s, info)
		return
	}
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return
	}
	info := &abi.Siginfo{Signo: s.Sig}
	if len(s.Info) == abi.SizeofSiginfo {
		info.UnmarshalBytes(s.Info)
		info.Signo = s.Sig
	}
	if s.Sig == abi.SIGCHLD && (info.Code == abi.CLD_STOPPED || info.Code == abi.CLD_CONTINUED) &&
		p.Signals.Action(abi.SIGCHLD).Flags&abi.SA_NOCLDSTOP != 0 {
		return // the parent asked not to hear of stops and continues
	}
	if s.Thread && s.Tid != 0 {
		p.SignalThread(info, s.Tid) // a later thread of the process
		return
	}
	p.SignalFrom(info, s.Thread)
}

// childEvent wakes wait4 and reaps a child the process never waits for.
func (h *host) childEvent(e ipc.ChildEvent) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	reaps := p != nil && p.ReapsChildren()
	if e.Exited && reaps {
		// Sent before the wake-up, so a wait4 that polls next already
		// finds the child gone (the supervisor handles this socket's
		// messages in order).
		h.zombies.selfReap(e.Pid)
		h.send(ipc.Request{Op: ipc.OpReap, Pid: e.Pid})
	}
	h.zombies.push(e, p != nil && !reaps) // before the wake-up too
	if e.Signal != nil {
		// After the push: a wait4 the signal interrupts looks at its
		// children again before it gives up, and finds this one.
		h.signal(*e.Signal)
	}
	h.mu.Lock()
	close(h.events)
	h.events = make(chan struct{})
	h.mu.Unlock()
	bumpChildEventFD() // after the close: child_eventfd.go
}

// ChildEvents implements kernel.TreeHost.
func (h *host) ChildEvents() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.events
}

// SetPdeathsig implements kernel.PdeathHost: the supervisor sends the
// signal when the parent ends. A round trip: the parent may end right
// after prctl returns (on its own socket, read on another goroutine),
// and the tree must know by then.
func (h *host) SetPdeathsig(sig int32) {
	if _, err := h.call(ipc.Request{Op: ipc.OpPdeathsig, Sig: sig}); err != nil {
		h.log.Debug("pdeathsig to supervisor", "error", err)
	}
}

// syncSubreaper tells the supervisor about a PR_SET_CHILD_SUBREAPER
// change. prctl only sets a flag in the process state; the flag matters
// to the tree only once the process has children, so it is checked
// before every fork and wait rather than on every prctl.
func (h *host) syncSubreaper() {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return
	}
	on := p.State().ChildSubreaper
	if on != h.subreaper {
		h.subreaper = on
		h.send(ipc.Request{Op: ipc.OpSubreap, Flag: on})
	}
}

// Wait implements kernel.TreeHost.
func (h *host) Wait(pid int32, options int32) (kernel.WaitResult, error) {
	h.syncSubreaper()
	if r, ok := h.waitPushed(pid, options); ok { // wait_push.go
		return r, nil
	}
	if r, ok, err := h.waitQuiet(pid, options); ok { // wait_quiet.go
		return r, err
	}
	for {
		h.zombies.begin()
		r, err := h.call(ipc.Request{Op: ipc.OpWait, Pid: pid, Options: options})
		res := kernel.WaitResult{Pid: r.Pid, Status: r.Status, Code: r.Code, Rusage: r.Rusage}
		h.zombies.done(res, err, options)
		if err != nil {
			return kernel.WaitResult{}, err
		}
		// A child that ended while the process ignored SIGCHLD is no
		// zombie of its: the wait reached the supervisor before the
		// OpReap its event made (on another goroutine). Its event came
		// before this reply on the socket, so it is known by now: ask
		// again, as Linux would never have reported it.
		if res.Pid != 0 && h.zombies.selfReaped(res.Pid) {
			continue
		}
		return res, nil
	}
}

// Kill implements kernel.TreeHost.
func (h *host) Kill(pid, tgid int32, thread bool, info *abi.Siginfo) (bool, error) {
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	r, err := h.call(ipc.Request{Op: ipc.OpKill, Pid: pid, Tgid: tgid, Thread: thread, Sig: info.Signo, Info: b})
	return r.Self, err
}

// PidfdOpen and PidfdKill implement kernel.PidfdHost.
func (h *host) PidfdOpen(pid int32) (int, uint64, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpPidfdOpen, Pid: pid})
	if err != nil {
		return -1, 0, err
	}
	if len(r.fds) != 1 {
		closeFDs(r.fds)
		return -1, 0, abi.EIO
	}
	return r.fds[0], r.Gen, nil
}

func (h *host) PidfdKill(pid int32, gen uint64, info *abi.Siginfo) (bool, error) {
	b := make([]byte, abi.SizeofSiginfo)
	info.MarshalBytes(b)
	r, err := h.call(ipc.Request{Op: ipc.OpPidfdKill, Pid: pid, Seq: gen, Sig: info.Signo, Info: b})
	return r.Self, err
}

// Getpgid, Getsid, Setpgid and Setsid implement the kernel's session hooks.
func (h *host) Getpgid(pid int32) (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpGetpgid, Pid: pid})
	return r.Pid, err
}

func (h *host) Getsid(pid int32) (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpGetsid, Pid: pid})
	return r.Pid, err
}

func (h *host) Setpgid(pid, pgid int32) error {
	_, err := h.call(ipc.Request{Op: ipc.OpSetpgid, Pid: pid, Pgid: pgid})
	return err
}

func (h *host) Setsid() (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpSetsid})
	return r.Pid, err
}

// PidOfHost and HostPidOf implement kernel.PidMapper.
func (h *host) PidOfHost(host int32) (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpPidOfHost, Pid: host})
	return r.Pid, err
}

func (h *host) HostPidOf(pid int32) (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpHostPidOf, Pid: pid})
	return r.Pid, err
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// decode decodes a message body received raw.
func decode(raw ipc.Raw, v any) error { return raw.Decode(v) }

// NewTid and FreeTid implement kernel.ThreadHost.
func (h *host) NewTid() (int32, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpNewTid})
	return r.Pid, err
}

func (h *host) FreeTid(tid int32) {
	h.send(ipc.Request{Op: ipc.OpFreeTid, Pid: tid})
}

// closeLater leaves descriptors and a Conn the process no longer needs for
// serve to close as it starts (on its own thread, while the guest runs).
func (h *host) closeLater(fds []int, c *ipc.Conn) {
	h.mu.Lock()
	h.late, h.lateConn = append(h.late, fds...), c
	h.mu.Unlock()
}

// closeLate closes what closeLater left.
func (h *host) closeLate() {
	h.mu.Lock()
	fds, c := h.late, h.lateConn
	h.late, h.lateConn = nil, nil
	h.mu.Unlock()
	closeFDs(fds)
	if c != nil {
		c.Close()
	}
}
