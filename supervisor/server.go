package supervisor

// The supervisor's side of the control protocol (see package ipc): one
// goroutine per guestproc reads its requests and end-of-life messages;
// the Tree answers; Notes go out to the guestprocs they name.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// supervisor is one invocation's namespace and its guestprocs.
type supervisor struct {
	cfg     Config
	log     hclog.Logger
	tree    *Tree
	spawner *spawner

	mu  sync.Mutex
	gps map[int32]*guestproc
	// unborn are fork children whose parent gave them up before they
	// started, by pid, with the parent (spawn_unfork.go).
	unborn map[int32]int32
	wg     sync.WaitGroup
	// initDone receives pid 1's wait status.
	initDone chan uint32

	// anchor holds and lets go of cfg.Anchor (anchor.go).
	anchor anchorGuard

	// spares are warm guestprocs (runtime up, VM made) waiting to become
	// the next fork children (spawn_spare.go).
	spareMu sync.Mutex
	spares  []*guestprocHandle
	making  bool
	closing bool
	// tickets counts the fork tickets held (spawn_ticket.go).
	tickets int
	// pairs are fork sockets made ahead for the next tickets
	// (spawn_ticket.go takePair).
	pairs chan [2]*ipc.Conn
	// describers routes guestprocs' Descriptions to dumps (dump.go).
	describers describers
	// procWaiters routes /proc answers of targets (procfs.go).
	procWaiters procWaiters
	// snaps are the /proc snapshots of stopped processes
	// (procfs_snapshot.go).
	snaps stopSnaps
	job   jobControl // jobctl.go
	// jobGen is the job-control generation guestprocs map (jobgen.go).
	jobGen *jobGen
	// pidfds are the processes pidfds name (pidfd.go).
	pidfds pidfdTargets
	// controlID names the control socket: this process's pid, or the
	// pid of the elfuse that re-ran this one in namespaces (netns.go),
	// the pid its user knows.
	controlID int
}

// guestproc is a running guestproc as the supervisor tracks it.
type guestproc struct {
	*guestprocHandle
	sendMu sync.Mutex
	closed bool
	// ticketMu guards ticket (spawn_ticket.go).
	ticketMu sync.Mutex
	ticket   tickets
	// received and handled count the messages serve takes from the
	// control socket (counted by the Conn before it takes one) and
	// finished with (textbusy_settle.go).
	received, handled atomic.Uint64
}

func newSupervisor(cfg Config, log hclog.Logger) *supervisor {
	gen, err := newJobGen()
	if err != nil {
		log.Debug("terminal checks will always ask the supervisor", "error", err)
	}
	s := &supervisor{
		cfg: cfg, log: log, tree: NewTree(cfg.MaxProcs, uint32(os.Getuid())),
		spawner: newSpawner(), gps: map[int32]*guestproc{}, initDone: make(chan uint32, 1),
		jobGen: gen, pairs: make(chan [2]*ipc.Conn, 1),
	}
	s.anchor.start(cfg.Anchor)
	return s
}

// Tree returns the namespace.
func (s *supervisor) Tree() *Tree { return s.tree }

// Snapshot returns the process table for dumps: every process, zombies
// included, sorted by pid, with its host pid (0 for a zombie whose
// guestproc is gone).
func (s *supervisor) Snapshot() []Proc {
	procs := s.tree.Snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range procs {
		if s.gps[procs[i].Pid] == nil {
			procs[i].HostPid = 0
		}
	}
	return procs
}

// spawner starts guestprocs from one OS thread that never exits: Pdeathsig
// fires when the thread that forked a child ends, not the process, so
// starting them from arbitrary Go threads could kill them early.
type spawner struct {
	reqs chan func()
	done chan struct{}
}

func newSpawner() *spawner {
	sp := &spawner{reqs: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the process
		for {
			select {
			case f := <-sp.reqs:
				f()
			case <-sp.done:
				return
			}
		}
	}()
	return sp
}

func (sp *spawner) run(f func()) {
	ch := make(chan struct{})
	sp.reqs <- func() { f(); close(ch) }
	<-ch
}

func (sp *spawner) stop() { close(sp.done) }

// spawn starts a guestproc for guest pid with its control socket as
// descriptor 3 and, for a fork child, forkEnd as descriptor 4. spawn owns
// forkEnd and closes it in every case.
func (s *supervisor) spawn(pid int32, forkEnd *ipc.Conn) (*guestprocHandle, error) {
	// Each descriptor is wrapped in exactly one os.File, closed through
	// it: a second owner would close a number the runtime may reuse.
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var forkFile *os.File
	if forkEnd != nil {
		forkFile = os.NewFile(uintptr(forkEnd.FD()), "fork")
		files = append(files, forkFile)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	mine, theirs, err := ipc.Socketpair()
	if err != nil {
		return nil, err
	}
	control := os.NewFile(uintptr(theirs.FD()), "control")
	files = append(files, control)
	cmd := exec.Command(self, ipc.GuestprocMode, strconv.Itoa(os.Getpid()))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Descriptors 3 (control), 4 (fork socket, if any) and 5 (the job
	// generation page, if any): a nil entry is a closed number.
	cmd.ExtraFiles = []*os.File{control, forkFile}
	if s.jobGen != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, s.jobGen.file)
	}
	cmd.ExtraFiles = s.traceFiles(cmd.ExtraFiles)    // 6: --trace output
	cmd.ExtraFiles = s.traceOutFiles(cmd.ExtraFiles) // 7: --trace-out timeline
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.spawner.run(func() { err = cmd.Start() })
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("start guestproc: %w", err)
	}
	s.tree.SetHostPid(pid, cmd.Process.Pid)
	s.log.Debug("guestproc started", "pid", pid, "host_pid", cmd.Process.Pid)
	if err := mine.UsePoller(); err != nil {
		s.log.Warn("guestproc control socket stays blocking", "pid", pid, "error", err)
	}
	return &guestprocHandle{pid: pid, cmd: cmd, conn: mine}, nil
}

// add registers a started guestproc.
func (s *supervisor) add(h *guestprocHandle) *guestproc {
	g := &guestproc{guestprocHandle: h}
	s.mu.Lock()
	s.gps[h.pid] = g
	s.mu.Unlock()
	s.wg.Add(1)
	return g
}

// send delivers one message to guest pid's guestproc, if it still runs.
func (s *supervisor) send(pid int32, t ipc.Type, v any, fds ...int) error {
	s.mu.Lock()
	g := s.gps[pid]
	s.mu.Unlock()
	if g == nil {
		return abi.ESRCH
	}
	return g.send(t, v, fds...)
}

func (g *guestproc) send(t ipc.Type, v any, fds ...int) error {
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	if g.closed {
		return io.EOF
	}
	return g.conn.Send(t, v, fds...)
}

// deliver sends the tree's notes. A child event followed by the signal
// the same change sends the same parent (as Tree.Exit, Stopped and
// Continued make them) goes as one message (ipc.ChildEvent.Signal).
func (s *supervisor) deliver(notes []Note) { s.deliverCarrying(notes, nil) }

// deliverCarrying is deliver with ticket t's end of the fork socket added
// to the child event that goes to its parent, if one does: true when it
// went.
func (s *supervisor) deliverCarrying(notes []Note, t *ticket) bool {
	carried := false
	for i := 0; i < len(notes); i++ {
		n := notes[i]
		var err error
		switch n.Kind {
		case NoteSignal:
			err = s.send(n.To, ipc.MsgSignal, signalBody(n))
		case NoteReparent:
			err = s.send(n.To, ipc.MsgReparent, ipc.Reparent{Ppid: n.Ppid})
		case NoteChildEvent:
			ev := ipc.ChildEvent{Pid: n.Pid, Exited: n.Exited, Zombie: n.Zombie.ipcReport(),
				Adopted: n.Adopted, ExitSignal: n.ExitSignal}
			if i+1 < len(notes) && notes[i+1].Kind == NoteSignal && notes[i+1].To == n.To {
				i++
				sig := signalBody(notes[i])
				ev.Signal = &sig
			}
			if fd := t.carried(n.To); fd >= 0 && !carried {
				err = s.send(n.To, ipc.MsgChildEvent, ev, fd)
				carried = err == nil
				break
			}
			err = s.send(n.To, ipc.MsgChildEvent, ev)
		}
		if err != nil {
			s.log.Trace("note not delivered", "to", n.To, "kind", n.Kind, "error", err)
		}
	}
	return carried
}

// signalBody is the message body of a NoteSignal.
func signalBody(n Note) ipc.Signal {
	b := make([]byte, abi.SizeofSiginfo)
	n.Info.MarshalBytes(b)
	return ipc.Signal{Sig: n.Sig, Info: b}
}

// serve handles one guestproc until its control socket closes, then reaps
// the host process. A guestproc that vanishes without Exited counts as
// killed by SIGKILL; one that never started (a fork child that failed) is
// forgotten without a trace.
func (s *supervisor) serve(g *guestproc) {
	defer s.wg.Done()
	// failed: the guestproc said it could not start (its parent's fork
	// fails and never hands out the pid). Any other end without Exited is
	// a death to report, even before Started: the parent may already hold
	// the pid (a child killed right after fork, e.g. `cmd & kill -9 $!`),
	// and its wait must see the status.
	failed := false
	exited := false
	recycled := false
	g.conn.CountTakes(&g.received)
	for !exited {
		var raw rawBody
		t, fds, err := g.conn.Recv(&raw)
		s.anchor.message()
		if err != nil {
			// EOF: the guestproc ended, after whatever it sent last
			// (ipc reads those even when messages of ours were left
			// unread, ipc/poll.go). ECONNRESET is an end like EOF.
			if !errors.Is(err, io.EOF) && !errors.Is(err, unix.ECONNRESET) {
				s.log.Warn("guestproc control socket", "pid", g.pid, "error", err)
			}
			break
		}
		switch t {
		case ipc.MsgStarted:
		case ipc.MsgHostStub:
			if len(fds) == 1 {
				g.stubs.keep(fds[0]) // stubs.go
				fds = nil
			}
		case ipc.MsgExecFailed:
			var f ipc.ExecFailed
			raw.decode(&f)
			// Lost: its parent's fork returned; it ends as killed.
			failed = !f.Lost
			s.log.Warn("fork child could not start", "pid", g.pid, "error", f.Message)
		case ipc.MsgExited:
			var e ipc.Exited
			raw.decode(&e)
			exited = true
			s.dropSnapshot(g.pid)
			if e.Comm != "" {
				s.procCommOf(g.pid, ipc.ProcComm{Comm: e.Comm})
			}
			// A recycled guestproc is a spare before the parent hears
			// of the exit, so that its next fork finds it; or its
			// parent's fork ticket, which the exit's child event
			// carries (spawn_ticket.go).
			var t *ticket
			if e.Reusable {
				t = s.recycleAsTicket(g)
				recycled = t != nil || s.recycle(g)
			}
			t.handOver(s, s.exitCarrying(g.pid, e.Status, e.Rusage, t))
			if t != nil {
				t.start(s)
				s.makePair() // for the next ticket, off the exit's way
			}
		case ipc.MsgDescription:
			var d ipc.Description
			if raw.decode(&d) == nil {
				s.described(d)
			}
		case ipc.MsgProcQuery:
			var q ipc.ProcQuery
			if raw.decode(&q) == nil {
				go s.procQuery(g, q)
			}
		case ipc.MsgProcAnswer:
			var a ipc.ProcAnswer
			if raw.decode(&a) == nil {
				s.procAnswered(g.pid, a)
			}
		case ipc.MsgGetFDAnswer:
			var a ipc.GetFDAnswer
			if raw.decode(&a) == nil {
				s.getfdAnswered(g.pid, a, fds) // pidfd_getfd.go
				fds = nil
			}
		case ipc.MsgProcComm:
			var c ipc.ProcComm
			if raw.decode(&c) == nil {
				s.procCommOf(g.pid, c)
			}
		case ipc.MsgProcSnapshot:
			var snap ipc.ProcSnapshot
			if raw.decode(&snap) == nil {
				s.keepSnapshot(g.pid, &snap) // procfs_snapshot.go
			}
		case ipc.MsgRequest:
			var req ipc.Request
			if err := raw.decode(&req); err != nil {
				s.log.Warn("bad request", "pid", g.pid, "error", err)
				break
			}
			s.handle(g, &req, fds)
			fds = nil
		default:
			s.log.Warn("unexpected message", "pid", g.pid, "type", t)
		}
		closeAll(fds)
		g.handled.Add(1)
	}
	s.reclaimTicket(g) // spawn_ticket.go: its process ended, however
	if recycled {
		return // the guestproc lives on as a spare (spawn_spare.go)
	}
	if !exited {
		// Reaped, and its stubs gone, before its parent hears (stubs.go).
		if err := g.awaitEnd(); err != nil {
			s.log.Debug("guestproc host process", "pid", g.pid, "error", err)
		}
		if _, unborn := s.unbornParent(g.pid); failed || unborn {
			s.tree.Discard(g.pid)
		} else {
			s.exit(g.pid, uint32(unix.SIGKILL), abi.Rusage{})
			if parent, unborn := s.unbornParent(g.pid); unborn {
				s.tree.Reap(parent, g.pid) // given up meanwhile
			}
		}
	}
	s.mu.Lock()
	delete(s.gps, g.pid)
	delete(s.unborn, g.pid)
	s.mu.Unlock()
	s.procGone(g.pid)
	g.sendMu.Lock()
	g.closed = true
	g.conn.Close()
	g.sendMu.Unlock()
	if !g.waited {
		if err := g.cmd.Wait(); err != nil {
			s.log.Debug("guestproc host process", "pid", g.pid, "error", err)
		}
	}
	g.stubs.close()
}

// exit records that pid ended and tells its parent and children.
func (s *supervisor) exit(pid int32, status uint32, ru abi.Rusage) {
	s.exitCarrying(pid, status, ru, nil)
}

// exitCarrying is exit with ticket t's end going to its parent in the
// child event of this exit, if there is one: true when it went.
func (s *supervisor) exitCarrying(pid int32, status uint32, ru abi.Rusage, t *ticket) bool {
	s.log.Debug("process exited", "pid", pid, "status", status)
	notes := s.tree.Exit(pid, status, ru)
	s.pidfdExited(pid) // before SIGCHLD, as Linux's do_notify_parent
	carried := s.deliverCarrying(notes, t)
	s.jobGen.bump() // orphaned groups and parents may have changed
	if pid == 1 {
		s.initDone <- status
	}
	return carried
}

// killAll kills every guestproc left (pid 1 ended) and the spares.
func (s *supervisor) killAll() {
	s.dropSpares()
	s.killTickets() // spawn_ticket.go
	s.dropPairs()   // spawn_ticket.go
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.gps {
		g.cmd.Process.Kill()
	}
}

// discard kills and reaps a guestproc that never got a process.
func (h *guestprocHandle) discard() {
	h.cmd.Process.Kill()
	h.conn.Close()
	h.cmd.Wait()
	h.stubs.close()
}

// handle answers one request of guestproc g; fds are the request's
// descriptors (handle owns them).
func (s *supervisor) handle(g *guestproc, req *ipc.Request, fds []int) {
	rep := ipc.Reply{ID: req.ID}
	var err error
	var out []int
	if req.Op == ipc.OpFork {
		// fds: the child's end of the parent's fork socket, or none on
		// a ticket. fork replies itself, before it starts the child.
		switch {
		case req.Ticket && len(fds) == 0:
			if err = s.forkTicketed(g, req); err == nil {
				return
			}
		case req.Ticket || len(fds) != 1:
			closeAll(fds)
			err = abi.EINVAL
		default:
			if err = s.fork(g, req, fds[0]); err == nil {
				return
			}
		}
		fds = nil
	}
	closeAll(fds)
	switch req.Op {
	case ipc.OpFork: // refused: err is set
	case ipc.OpWait:
		var r WaitResult
		r, err = s.tree.Wait(g.pid, req.Pid, req.Options)
		rep.Pid, rep.Status, rep.Code, rep.Rusage = r.Pid, r.Status, r.Code, r.Rusage
	case ipc.OpKill:
		rep.Self, err = s.kill(g.pid, req)
	case ipc.OpSetpgid:
		err = s.tree.Setpgid(g.pid, req.Pid, req.Pgid)
		s.jobGen.bump()
	case ipc.OpGetpgid:
		rep.Pid, err = s.tree.Getpgid(g.pid, req.Pid)
	case ipc.OpSetsid:
		rep.Pid, err = s.tree.Setsid(g.pid)
		s.jobGen.bump()
	case ipc.OpGetsid:
		rep.Pid, err = s.tree.Getsid(g.pid, req.Pid)
	case ipc.OpExeced:
		if req.Files != nil {
			s.tree.SetImage(g.pid, req.Files) // the new image's (tree_text.go)
		}
		s.tree.Execed(g.pid, req.Exe, req.Argv)
		return
	case ipc.OpImage:
		s.tree.SetImage(g.pid, req.Files) // tree_text.go
		return
	case ipc.OpTextBusy:
		rep.Self = len(req.Files) == 1 && s.tree.TextBusy(req.Files[0])
		if !rep.Self && len(req.Files) == 1 && s.settleReaders(g) { // textbusy_settle.go
			rep.Self = s.tree.TextBusy(req.Files[0])
		}
	case ipc.OpReap:
		s.tree.Reap(g.pid, req.Pid)
		return
	case ipc.OpUnfork:
		s.unfork(g.pid, req.Pid)
		return
	case ipc.OpSubreap:
		s.tree.SetSubreaper(g.pid, req.Flag)
		return
	case ipc.OpPdeathsig:
		s.tree.SetPdeathsig(g.pid, req.Sig)
	case ipc.OpStop:
		if s.stopRequest(g, req) {
			return // replied when continued (jobctl.go)
		}
	case ipc.OpHostGroup:
		rep.Self = s.inHostGroup(g.pid, req.Sig)
	case ipc.OpTcgetpgrp:
		rep.Pid, err = s.tcgetpgrp(g.pid)
	case ipc.OpTcgetsid:
		rep.Pid, err = s.tcgetsid(g.pid) // jobctl_tty.go
	case ipc.OpGuestTTY:
		rep.Pid, rep.Self, err = s.guestTTYOp(g.pid, req) // jobctl_pty.go
		if req.Options == ipc.GuestTTYTake || req.Options == ipc.GuestTTYSetpgrp {
			s.jobGen.bump() // guest terminal verdicts change with them
		}
	case ipc.OpCtty:
		rep.Self, rep.Gen, err = s.ctty(g.pid) // jobctl_ctty.go
	case ipc.OpTTYDetach:
		rep.Self, err = s.ttyDetach(g.pid) // jobctl_tty.go
		s.jobGen.bump()
	case ipc.OpTcsetpgrp:
		err = s.tcsetpgrp(g.pid, req.Pgid)
		s.jobGen.bump()
	case ipc.OpPidOfHost:
		rep.Pid = s.tree.PidOfHost(int(req.Pid))
	case ipc.OpHostPidOf:
		rep.Pid = int32(s.tree.HostPidOf(req.Pid))
	case ipc.OpPidfdOpen:
		var fd int
		rep.Gen, fd, err = s.pidfdOpen(req.Pid)
		if err == nil {
			out = []int{fd}
			defer unix.Close(fd)
		}
	case ipc.OpPidfdKill:
		rep.Self, err = s.pidfdKill(g.pid, req)
	case ipc.OpPidfdGetfd:
		go s.pidfdGetfd(g, *req) // pidfd_getfd.go: replies itself
		return
	case ipc.OpNewTid:
		rep.Pid, err = s.tree.NewTid(g.pid) // thread.go
	case ipc.OpFreeTid:
		s.tree.FreeTid(g.pid, req.Pid)
		return
	case ipc.OpTTYAccess:
		var goAhead bool
		rep.Self, goAhead, err = s.ttyAccess(g.pid, req.Sig, req.Flag) // jobctl_tty.go
		if goAhead {
			rep.Code = ipc.TTYGoAhead
		}
	default:
		err = abi.ENOSYS
	}
	if err != nil {
		var e abi.Errno
		if !errors.As(err, &e) {
			s.log.Error("request failed", "pid", g.pid, "op", req.Op, "error", err)
			e = abi.EIO
		}
		rep.Errno, out = int32(e), nil
	}
	if req.ID == 0 {
		return
	}
	if err := g.send(ipc.MsgReply, rep, out...); err != nil {
		s.log.Debug("reply not delivered", "pid", g.pid, "error", err)
	}
}

// fork makes a child of g's process for request req: a pid, and a
// guestproc holding forkEnd, the child's end of the fork socket the parent
// made (and streams the image on; package ipc). The reply goes to the
// parent before the child's guestproc gets its Start, so that everything
// the child later causes (its exit, a signal it sends) reaches the parent
// after the fork's reply. When no pid can be made it sends nothing, closes
// forkEnd and returns the error for the caller to reply. A child whose
// guestproc cannot start is forgotten again; the parent, its fork socket
// closed, fails the fork.
func (s *supervisor) fork(g *guestproc, req *ipc.Request, forkEnd int) error {
	parent := g.pid
	pid, err := s.tree.Fork(parent, req.ExitSignal)
	if err != nil {
		unix.Close(forkEnd)
		return err
	}
	s.pidfdBorn(pid)
	theirs := ipc.NewConn(forkEnd)
	start := s.forkStart(pid, parent)
	for sp := s.takeSpare(); sp != nil; sp = s.takeSpare() {
		// A spare that died idle (a host signal) is passed over.
		if err := sp.conn.Send(ipc.MsgStart, start, theirs.FD()); err != nil {
			s.log.Debug("fork: spare guestproc gone", "host_pid", sp.cmd.Process.Pid, "error", err)
			go sp.discard()
			continue
		}
		// The child's start is what the parent's fork waits for (the
		// child copies its memory), so it goes before the reply.
		theirs.Close()
		s.forked(g, req, pid, sp)
		return nil
	}
	s.replyFork(g, req, pid)
	h, err := s.spawn(pid, theirs) // closes forkEnd, also on failure
	if err != nil {
		s.tree.Discard(pid)
		s.log.Error("fork: start guestproc", "error", err)
		return nil
	}
	g2 := s.add(h)
	err = g2.send(ipc.MsgStart, start)
	go s.serve(g2)
	if err != nil {
		h.cmd.Process.Kill()
	}
	return nil
}

// kill routes a signal from process from.
func (s *supervisor) kill(from int32, req *ipc.Request) (self bool, err error) {
	var targets []int32
	if req.Thread && s.tree.isThread(req.Pid) {
		return s.killThread(from, req) // thread.go
	}
	if !req.Thread && req.Pid > 0 {
		// kill(2) of a thread id signals its process, as on Linux.
		req.Pid = s.tree.tgidOrSelf(req.Pid)
	}
	if req.Thread {
		// A process's first thread: thread id == process id.
		if req.Tgid != -1 && req.Tgid != req.Pid {
			return false, abi.ESRCH
		}
		p, ok := s.tree.Get(req.Pid)
		if !ok {
			return false, abi.ESRCH
		}
		if p.State != Zombie {
			targets = []int32{req.Pid}
		}
	} else if targets, err = s.tree.KillTargets(from, req.Pid); err != nil {
		return false, err
	}
	if req.Sig < 0 || req.Sig > abi.NSIG {
		return false, abi.EINVAL
	}
	if req.Sig == 0 {
		return false, nil
	}
	for _, pid := range targets {
		if pid == from {
			self = true
			continue
		}
		if s.cfg.LogLevel == "trace" {
			s.log.Trace("signal", "from", from, "to", pid, "sig", req.Sig)
		}
		if s.hostSignal(pid, req) {
			continue
		}
		s.snapshotSignal(pid, req.Sig, req.Thread) // shown pending while stopped
		s.send(pid, ipc.MsgSignal, ipc.Signal{Sig: req.Sig, Info: req.Info, Thread: req.Thread})
	}
	return self, nil
}

// hostSignal applies the signals that act on the whole guestproc rather
// than through the guest's dispositions, and reports whether sig was one
// of those taken over completely:
//   - SIGKILL kills the host process at once (it also ends a stopped
//     one, which could not read a message); the tree records the death
//     when its control socket closes.
//   - SIGSTOP stops the host process (jobctl.go). The parent's wait sees
//     WUNTRACED.
//   - SIGCONT continues it and is delivered to the guest, which may
//     catch it (jobctl.go); the parent's wait sees WCONTINUED.
func (s *supervisor) hostSignal(pid int32, req *ipc.Request) bool {
	s.mu.Lock()
	g := s.gps[pid]
	s.mu.Unlock()
	if g == nil {
		return false
	}
	switch req.Sig {
	case abi.SIGKILL:
		g.signalHost(syscall.SIGKILL)
		return true
	case abi.SIGSTOP:
		s.hostStop(g)
		return true
	case abi.SIGCONT:
		s.hostContinue(g, req)
		return true
	}
	return false
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
