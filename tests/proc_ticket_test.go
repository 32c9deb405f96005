package tests

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/tests/testutil"
)

// Fork tickets (ipc/ticket.go): the differential cases are in
// procProgramCases (ticket_*); the two here take the ends a native run
// has no counterpart for.

// ticketCases are proc_ticket.c's modes that run natively too.
func ticketCases() []progCase {
	var cs []progCase
	for _, m := range []string{"loop", "unused", "exec", "burst"} {
		cs = append(cs, progCase{name: "ticket_" + m, src: "proc_ticket.c", args: []string{m}})
	}
	return cs
}

// ticketProgram returns elfuse and proc_ticket.c built with the first
// compiler.
func ticketProgram(t *testing.T) (bin, prog string) {
	t.Helper()
	return elfuse.Require(t), cc.Build(t, testutil.Compilers[0], "proc_ticket.c")
}

// TestForkTicketRefusedByMaxProcs: a fork that would go over --max-procs
// fails with EAGAIN when the parent holds a ticket too, and the parent
// forks on once there is room.
func TestForkTicketRefusedByMaxProcs(t *testing.T) {
	bin, prog := ticketProgram(t)
	want := "fork with the tree full: EAGAIN\nended child: exited 7\n" +
		"fork after reaping: pid, parent and status as the parent saw them\nsleeper: killed by signal 9\n"
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			cmd, out := startInGroup(t, bin, b, "--max-procs=3", "--log-level=debug", prog, "limit")
			err := cmd.Wait()
			if err != nil || withoutDebug(out.String()) != want {
				t.Fatalf("elfuse: %v\ngot:\n%s\nwant:\n%s", err, out, want)
			}
			// The refused fork went over the ticket the ended child's
			// exit gave.
			if !strings.Contains(out.String(), "fork on a ticket refused") {
				t.Errorf("the refused fork held no ticket:\n%s", out)
			}
			waitGroupGone(t, cmd.Process.Pid)
		})
	}
}

// TestForkTicketLeftUnused: children that hold a ticket and end without
// forking give their spares back, and the parent's forks after use them.
// The differential case ticket_unused checks the results against a native
// run; this one checks that the tickets were made and went unused.
func TestForkTicketLeftUnused(t *testing.T) {
	bin, prog := ticketProgram(t)
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			cmd, out := startInGroup(t, bin, b, "--log-level=debug", prog, "unused")
			err := cmd.Wait()
			got := withoutDebug(out.String())
			if err != nil || !strings.HasSuffix(got, "20 forks after the unused tickets: pids, parents and statuses as the parent saw them\n") {
				t.Fatalf("elfuse: %v\n%s", err, out)
			}
			if n := strings.Count(out.String(), "fork ticket closed unused"); n < 8 {
				t.Errorf("%d tickets closed unused, want one per child at least (8)\n%s", n, out)
			}
			waitGroupGone(t, cmd.Process.Pid)
		})
	}
}

// withoutDebug drops the log lines of elfuse --log-level=debug from out.
func withoutDebug(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		// Every log line of --log-level=debug: the KVM backend also
		// says which syscall exit it uses at INFO.
		if !strings.Contains(l, "[DEBUG]") && !strings.Contains(l, "[INFO] ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// staleRun is proc_ticket's stale mode under elfuse, held at its ready
// line: a child has ended, so the parent holds a fork ticket, and it forks
// six more once told to go on.
type staleRun struct {
	bin    string
	env    []string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	r      *bufio.Reader
	got    strings.Builder
	stderr bytes.Buffer
}

const staleWant = "first child: exited 7\nready\n" +
	"6 children after the spares died: pids, parents and statuses as the parent saw them\n"

func startStale(t *testing.T, backend string) *staleRun {
	t.Helper()
	bin, prog := ticketProgram(t)
	s := &staleRun{bin: bin, env: append(testutil.Env(), "XDG_RUNTIME_DIR="+t.TempDir())}
	s.cmd = exec.Command(bin, "--backend="+backend, "--log-level=debug", prog, "stale")
	s.cmd.Env = s.env
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	s.r = bufio.NewReader(stdout)
	for !strings.HasSuffix(s.got.String(), "ready\n") {
		line, err := s.r.ReadString('\n')
		s.got.WriteString(line)
		if err != nil {
			t.Fatalf("no ready line: %v\n%s\n%s", err, s.got.String(), s.stderr.String())
		}
	}
	return s
}

// spares returns the spare guestprocs of the run (spareGuestprocs); there
// is one at least, the parent's ticket.
func (s *staleRun) spares(t *testing.T) []int {
	t.Helper()
	pids := spareGuestprocs(t, s.bin, s.env, s.cmd.Process.Pid)
	if len(pids) == 0 {
		t.Fatalf("no spare guestproc: the parent holds no ticket\n%s", s.stderr.String())
	}
	return pids
}

// finish reads the rest of the output, checks it and the group's end,
// and returns elfuse's stderr.
func (s *staleRun) finish(t *testing.T) string {
	t.Helper()
	rest, _ := io.ReadAll(s.r)
	s.got.Write(rest)
	err := s.cmd.Wait()
	if err != nil || s.got.String() != staleWant {
		t.Fatalf("elfuse: %v\ngot:\n%s\nwant:\n%s\nstderr:\n%s", err, s.got.String(), staleWant, s.stderr.String())
	}
	waitGroupGone(t, s.cmd.Process.Pid)
	return s.stderr.String()
}

// TestForkAfterTicketSpareDied: every spare guestproc, the one of the
// parent's ticket included, is killed from the host while the parent waits;
// its next forks still work (the supervisor answers ESTALE, the parent forks
// without the ticket, the dead spares of the pool are passed over).
func TestForkAfterTicketSpareDied(t *testing.T) {
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			s := startStale(t, b)
			spares := s.spares(t)
			killAndWait(spares)
			s.stdin.Write([]byte("\n"))
			if !strings.Contains(s.finish(t), "ticket unusable") {
				t.Errorf("the first fork after the kill did not find its ticket dead:\n%s", s.stderr.String())
			}
		})
	}
}

// TestForkWhileItsChildsGuestprocDies: the spares (the ticket's included)
// are stopped, the parent forks onto one of them, and they are killed while
// the fork waits for its child: the fork goes on with another guestproc
// instead of failing.
func TestForkWhileItsChildsGuestprocDies(t *testing.T) {
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			s := startStale(t, b)
			spares := s.spares(t)
			for _, pid := range spares {
				syscall.Kill(pid, syscall.SIGSTOP)
			}
			s.stdin.Write([]byte("\n"))
			// The fork is on its way once the tree has its child (the
			// dump waits out the stopped guestproc's description).
			for {
				procs, _, err := dumpJSON(t, s.bin, s.env, strconv.Itoa(s.cmd.Process.Pid))
				if err == nil && len(procs) > 1 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			killAndWait(spares)
			if !strings.Contains(s.finish(t), "forking again") {
				t.Errorf("the fork did not meet its child's guestproc dying:\n%s", s.stderr.String())
			}
		})
	}
}

// spareGuestprocs returns the host pids of every guestproc of the tree led
// by supervisor that runs no live guest process (the dump names no such
// host pid): the spares and the tickets' spares.
func spareGuestprocs(t *testing.T, bin string, env []string, supervisor int) []int {
	t.Helper()
	live := map[int]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for {
		procs, stderr, err := dumpJSON(t, bin, env, strconv.Itoa(supervisor))
		if err == nil && len(procs) > 0 {
			for _, p := range procs {
				// A zombie's guestproc is recycled already: the first
				// child's, reaped by the parent, can still be in the
				// tree until the supervisor reads the reap.
				if p.State != "zombie" {
					live[p.HostPid] = true
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dump: %v %s", err, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var spares []int
	for _, l := range hostGroup(supervisor) {
		pid, err := strconv.Atoi(strings.Fields(l)[0])
		if err != nil || live[pid] || pid == supervisor {
			continue
		}
		argv, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil || !bytes.Contains(argv, []byte(ipc.GuestprocMode)) {
			continue // a stub: it goes with its guestproc
		}
		spares = append(spares, pid)
	}
	return spares
}

// killAndWait SIGKILLs pids and returns once they are dead in every thread
// (a spare that dies while a fork is on its way makes that fork try
// another guestproc: not what TestForkAfterTicketSpareDied is about). A
// killed Go process's leader turns zombie while other threads may still be
// exiting with its descriptors (the control socket) open, and a supervisor
// writing to that socket then does not see the spare dead.
func killAndWait(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		for !threadsGone(pid) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// threadsGone reports whether host process pid has ended in every thread:
// reaped, or a zombie whose only task left is the leader.
func threadsGone(pid int) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return true
	}
	if f := strings.Fields(s[i+1:]); len(f) == 0 || (f[0] != "Z" && f[0] != "X") {
		return false
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	return err != nil || len(tasks) <= 1
}
