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

// TestForkAfterTicketSpareDied: every spare guestproc, the one of the
// parent's ticket included, is killed from the host while the parent waits;
// its next forks still work (the supervisor answers ESTALE, the parent forks
// without the ticket, the dead spares of the pool are passed over).
func TestForkAfterTicketSpareDied(t *testing.T) {
	bin, prog := ticketProgram(t)
	want := "first child: exited 7\nready\n" +
		"6 children after the spares died: pids, parents and statuses as the parent saw them\n"
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			env := append(testutil.Env(), "XDG_RUNTIME_DIR="+t.TempDir())
			cmd := exec.Command(bin, "--backend="+b, "--log-level=debug", prog, "stale")
			cmd.Env = env
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var got strings.Builder
			r := bufio.NewReader(stdout)
			for !strings.HasSuffix(got.String(), "ready\n") {
				line, err := r.ReadString('\n')
				got.WriteString(line)
				if err != nil {
					t.Fatalf("no ready line: %v\n%s\n%s", err, got.String(), stderr.String())
				}
			}
			killed := killSpares(t, bin, env, cmd.Process.Pid)
			if killed == 0 {
				t.Fatalf("no spare guestproc to kill: the parent holds no ticket\n%s", stderr.String())
			}
			stdin.Write([]byte("\n"))
			rest, _ := io.ReadAll(r)
			got.Write(rest)
			err = cmd.Wait()
			if err != nil || got.String() != want {
				t.Fatalf("elfuse: %v\ngot:\n%s\nwant:\n%s\nstderr:\n%s", err, got.String(), want, stderr.String())
			}
			if !strings.Contains(stderr.String(), "ticket unusable") {
				t.Errorf("the first fork after the kill did not find its ticket dead:\n%s", stderr.String())
			}
			waitGroupGone(t, cmd.Process.Pid)
		})
	}
}

// killSpares SIGKILLs every guestproc of the tree led by supervisor that
// runs no guest process (the dump does not name its host pid): the spares
// and the tickets' spares. It returns how many it killed, once they are
// dead (a spare that dies while a fork is on its way makes that fork fail,
// as on the ordinary path: not what this test is about).
func killSpares(t *testing.T, bin string, env []string, supervisor int) int {
	t.Helper()
	live := map[int]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for {
		procs, stderr, err := dumpJSON(t, bin, env, strconv.Itoa(supervisor))
		if err == nil && len(procs) > 0 {
			for _, p := range procs {
				live[p.HostPid] = true
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dump: %v %s", err, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	killed := 0
	for _, l := range hostGroup(supervisor) {
		pid, err := strconv.Atoi(strings.Fields(l)[0])
		if err != nil || live[pid] || pid == supervisor {
			continue
		}
		argv, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil || !bytes.Contains(argv, []byte(ipc.GuestprocMode)) {
			continue // a stub: it goes with its guestproc
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	// hostGroup leaves zombies out.
	for {
		left := 0
		for _, l := range hostGroup(supervisor) {
			pid, _ := strconv.Atoi(strings.Fields(l)[0])
			argv, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			if !live[pid] && pid != supervisor && bytes.Contains(argv, []byte(ipc.GuestprocMode)) {
				left++
			}
		}
		if left == 0 {
			return killed
		}
		time.Sleep(5 * time.Millisecond)
	}
}
