package supervisor

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// ticketTree is a supervisor with pid 1 (the parent that forks) and its
// ended fork child pid 2, each with a control socket whose guestproc end
// the test reads. Pid 2's guestproc is a real host process (sleep) so that
// discarding it has something to kill.
type ticketTree struct {
	s              *supervisor
	parent, child  *guestproc
	parentG, spare *ipc.Conn // the guestproc ends
	cmd            *exec.Cmd
	// handedOn: the supervisor reaps cmd (a serve or a discard), not the
	// test's cleanup.
	handedOn bool
}

func newTicketTree(t *testing.T, maxProcs int) *ticketTree {
	t.Helper()
	s := newSupervisor(Config{MaxProcs: maxProcs}, hclog.NewNullLogger())
	s.tree.NewInit("/bin/sh", []string{"sh"}, Leads{Group: true, Session: true})
	if pid, err := s.tree.Fork(1, abi.SIGCHLD); err != nil || pid != 2 {
		t.Fatalf("fork = %d, %v", pid, err)
	}
	pair := func() (*ipc.Conn, *ipc.Conn) {
		mine, theirs, err := ipc.Socketpair()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { theirs.Close() })
		return mine, theirs
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tt := &ticketTree{s: s, cmd: cmd}
	// Registered without s.add: no serve reads these.
	var mine *ipc.Conn
	mine, tt.parentG = pair()
	t.Cleanup(func() { mine.Close() })
	tt.parent = &guestproc{guestprocHandle: &guestprocHandle{pid: 1, conn: mine}}
	childConn, spare := pair()
	tt.spare = spare
	tt.child = &guestproc{guestprocHandle: &guestprocHandle{pid: 2, conn: childConn, cmd: cmd}}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if !tt.handedOn {
			childConn.Close()
			cmd.Wait()
		}
	})
	s.gps[1], s.gps[2] = tt.parent, tt.child
	return tt
}

// secondChild registers pid 3, another child of pid 1 (on the first
// child's control socket: it is only offered for a ticket).
func (tt *ticketTree) secondChild() *guestproc {
	tt.s.tree.Fork(1, abi.SIGCHLD)
	g := &guestproc{guestprocHandle: &guestprocHandle{pid: 3, conn: tt.child.conn}}
	tt.s.gps[3] = g
	return g
}

// expect reads one message of type want from c into v and returns its
// descriptors.
func expect(t *testing.T, c *ipc.Conn, want ipc.Type, v any) []int {
	t.Helper()
	var raw ipc.Raw
	got, fds, err := c.Recv(&raw)
	if err != nil || got != want {
		t.Fatalf("got message %d (%v), want %d", got, err, want)
	}
	if v != nil {
		if err := raw.Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { closeAll(fds) })
	return fds
}

// connected reports whether descriptors a and b are the two ends of one
// socket.
func connected(t *testing.T, a, b int) bool {
	t.Helper()
	if _, err := unix.Write(a, []byte{7}); err != nil {
		return false
	}
	var buf [1]byte
	n, err := unix.Read(b, buf[:])
	return err == nil && n == 1 && buf[0] == 7
}

func TestTicketIsTheEndedChildsGuestproc(t *testing.T) {
	tt := newTicketTree(t, 8)
	tk := tt.s.recycleAsTicket(tt.child)
	if tk == nil {
		t.Fatal("no ticket for the parent of an ended child")
	}
	// The parent's end comes with the exit's child event, in one
	// message: the next fork finds it, and the parent is woken once.
	if !tt.s.exitCarrying(2, 0, abi.Rusage{}, tk) {
		t.Fatal("the exit's child event did not carry the ticket")
	}
	tk.handOver(tt.s, true)
	var ev ipc.ChildEvent
	parentEnd := expect(t, tt.parentG, ipc.MsgChildEvent, &ev)
	if len(parentEnd) != 1 || ev.Pid != 2 || !ev.Exited {
		t.Fatalf("child event %+v carries %d descriptors, want pid 2's exit and 1", ev, len(parentEnd))
	}
	if !tk.start(tt.s) {
		t.Fatal("start failed on a live spare")
	}
	tk.start(tt.s) // once
	var st ipc.Start
	spareEnd := expect(t, tt.spare, ipc.MsgStart, &st)
	if !st.Fork || !st.Reserved || st.Pid != 0 || st.Ppid != 1 || len(spareEnd) != 1 {
		t.Fatalf("spare's Start = %+v with %d descriptors, want a reserved fork of pid 1 and the socket", st, len(spareEnd))
	}
	if !connected(t, parentEnd[0], spareEnd[0]) {
		t.Error("the parent's and the spare's ends are not one socket")
	}
	tt.s.mu.Lock()
	_, stillThere := tt.s.gps[2]
	tt.s.mu.Unlock()
	if stillThere {
		t.Error("the ended child's guestproc still serves pid 2")
	}
	// One ticket at a time: the next ended child goes to the pool.
	if tt.s.recycleAsTicket(tt.secondChild()) != nil {
		t.Error("a second ticket for a parent that holds one")
	}
}

func TestTicketedForkAssignsThePid(t *testing.T) {
	tt := newTicketTree(t, 8)
	tk := tt.s.recycleAsTicket(tt.child)
	if tk == nil {
		t.Fatal("no ticket")
	}
	// No child event carried it (say, the parent of the exit changed):
	// a MsgTicket of its own.
	tk.handOver(tt.s, false)
	if fds := expect(t, tt.parentG, ipc.MsgTicket, nil); len(fds) != 1 {
		t.Fatalf("MsgTicket carries %d descriptors, want 1", len(fds))
	}
	tt.handedOn = true // the child's serve reaps it
	if err := tt.s.forkTicketed(tt.parent, &ipc.Request{ID: 5, Op: ipc.OpFork, ExitSignal: abi.SIGCHLD, Ticket: true}); err != nil {
		t.Fatalf("forkTicketed: %v", err)
	}
	// The Start (not sent yet when the parent forked) precedes the
	// Assign.
	expect(t, tt.spare, ipc.MsgStart, nil)
	var a ipc.Assign
	expect(t, tt.spare, ipc.MsgAssign, &a)
	var r ipc.Reply
	expect(t, tt.parentG, ipc.MsgReply, &r)
	if a.Pid != 3 || a.Ppid != 1 || r.ID != 5 || r.Pid != 3 {
		t.Errorf("assign %+v, reply %+v: want pid 3, parent 1, reply to request 5", a, r)
	}
	if p, ok := tt.s.tree.Get(3); !ok || p.Ppid != 1 || p.HostPid != tt.cmd.Process.Pid {
		t.Errorf("tree has %+v (%v), want pid 3 under 1 on the spare's host pid", p, ok)
	}
	// The ticket is spent: the next fork on one is told to go without.
	if err := tt.s.forkTicketed(tt.parent, &ipc.Request{ID: 6, Op: ipc.OpFork, Ticket: true}); !errors.Is(err, abi.ESTALE) {
		t.Errorf("second fork on the same ticket: %v, want ESTALE", err)
	}
	tt.cmd.Process.Kill()
	tt.spare.Close() // ends the child's serve, which reaps the spare
	tt.s.wg.Wait()
}

func TestTicketedForkRefusedDiscardsTheSpare(t *testing.T) {
	tt := newTicketTree(t, 2) // pid 1 and pid 2 (its exit not yet recorded) fill it
	if tt.s.recycleAsTicket(tt.child) == nil {
		t.Fatal("no ticket")
	}
	tt.handedOn = true // discarded
	err := tt.s.forkTicketed(tt.parent, &ipc.Request{ID: 1, Op: ipc.OpFork, Ticket: true})
	if !errors.Is(err, abi.EAGAIN) {
		t.Fatalf("fork over --max-procs: %v, want EAGAIN", err)
	}
	// The spare, which may hold the image, is killed and reaped.
	for unix.Kill(tt.cmd.Process.Pid, 0) == nil {
		time.Sleep(time.Millisecond)
	}
}

func TestReclaimedTicketGoesBackToThePool(t *testing.T) {
	tt := newTicketTree(t, 8)
	if tt.s.recycleAsTicket(tt.child) == nil {
		t.Fatal("no ticket")
	}
	// The parent ends before the spare got its Start: the Start still
	// goes first (the spare reads EOF on it), then the pool has it.
	tt.s.reclaimTicket(tt.parent)
	var st ipc.Start
	expect(t, tt.spare, ipc.MsgStart, &st)
	if !st.Reserved {
		t.Errorf("Start = %+v, want the ticket's", st)
	}
	tt.s.spareMu.Lock()
	n := len(tt.s.spares)
	tt.s.spareMu.Unlock()
	if n != 1 {
		t.Errorf("%d spares in the pool, want the ticket's", n)
	}
	if tt.s.recycleAsTicket(tt.secondChild()) != nil {
		t.Error("a ticket for a parent whose process ended")
	}
}

func TestTicketsHeldAreBounded(t *testing.T) {
	tt := newTicketTree(t, 8)
	tt.s.tickets = maxTickets
	if tt.s.recycleAsTicket(tt.child) != nil {
		t.Fatal("a ticket past maxTickets")
	}
	tt.s.tickets = maxTickets - 1
	if tt.s.recycleAsTicket(tt.child) == nil {
		t.Fatal("no ticket below maxTickets")
	}
	if tt.s.tickets != maxTickets {
		t.Errorf("%d tickets held, want %d", tt.s.tickets, maxTickets)
	}
	// A ticket taken by a fork or given back at the end is no longer held.
	tt.s.reclaimTicket(tt.parent)
	if tt.s.tickets != maxTickets-1 {
		t.Errorf("%d tickets held after the reclaim, want %d", tt.s.tickets, maxTickets-1)
	}
}

// A ticket takes the fork socket made ahead after the last exit, and the
// next exit makes another; what is left goes with the tree.
func TestTicketSocketsAreMadeAhead(t *testing.T) {
	tt := newTicketTree(t, 8)
	tt.s.makePair()
	if len(tt.s.pairs) != 1 {
		t.Fatalf("%d sockets made ahead, want 1", len(tt.s.pairs))
	}
	tt.s.makePair() // one is enough
	ahead := <-tt.s.pairs
	tt.s.pairs <- ahead
	tk := tt.s.recycleAsTicket(tt.child)
	if tk == nil {
		t.Fatal("no ticket")
	}
	if tk.mine != ahead[0] || tk.theirs != ahead[1] || len(tt.s.pairs) != 0 {
		t.Errorf("the ticket did not take the socket made ahead (%d left)", len(tt.s.pairs))
	}
	tk.handOver(tt.s, false)
	expect(t, tt.parentG, ipc.MsgTicket, nil)
	tt.s.makePair()
	tt.s.dropPairs()
	if len(tt.s.pairs) != 0 {
		t.Errorf("%d sockets left after the tree ended", len(tt.s.pairs))
	}
}
