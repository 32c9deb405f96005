package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elfuse/elfuse/tests/testutil"
	"golang.org/x/sys/unix"
)

// Job control: stop signals, SIGCONT and the terminal's signals, native
// against elfuse.

func TestJobControlBashScript(t *testing.T) {
	requireBusybox(t)
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	requireProcesses(t)
	testutil.RunCase(t, elfuse, procShellCase(t, bashShell(), "jobctl_stop.sh"))
}

func TestJobControlBusyboxSh(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	cases := []testutil.Case{
		// sh leads its session here, so its own group is orphaned and
		// SIGTSTP is discarded; SIGSTOP is not.
		{Name: "tstp_then_cont", Args: sh(`sleep 1 & kill -TSTP $!; kill -CONT $!; wait $!; echo "st=$?"`)},
		{Name: "term_while_stopped", Args: sh(`sleep 5 & p=$!; kill -STOP $p; kill -TERM $p; kill -CONT $p; wait $p; echo "st=$?"`)},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}

// ptyStep is one action on a terminal: wait until the output shows
// Expect, then type Type.
type ptyStep struct {
	Expect string
	// Count is how many times Expect must have shown (0 means 1).
	Count int
	Type  string
	// Settle is a pause before typing, for signals that would arrive
	// twice to have the chance to (it cannot make a correct run fail).
	Settle time.Duration
}

// ptyStall is how long a terminal may show nothing new while a step
// waits for its text, or the program for its end, before the run is
// given up: it turns a hang into a failure that shows the terminal. It
// is no measure of speed; a working run never comes near it.
const ptyStall = 3 * time.Minute

// runOnTerminal runs argv as the session leader of a new pseudo-terminal,
// plays steps and returns everything the terminal showed (CRs removed)
// and the exit status. A step whose text never shows fails the test once
// the program has ended, or once the terminal has shown nothing new for
// ptyStall (the program's group is then killed and the terminal closed).
func runOnTerminal(t *testing.T, argv, env []string, steps []ptyStep) (string, int) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer m.Close()
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(testutil.Env(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		s.Close()
		t.Fatal(err)
	}
	s.Close()

	var (
		mu    sync.Mutex
		out   bytes.Buffer
		grew  = make(chan struct{}, 1)
		ended = make(chan struct{})
	)
	go func() {
		defer close(ended)
		b := make([]byte, 4096)
		for {
			k, err := m.Read(b)
			mu.Lock()
			out.Write(b[:k])
			mu.Unlock()
			select {
			case grew <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	terminal := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.ReplaceAll(out.String(), "\r", "")
	}
	shown := func(s string, n int) bool {
		return strings.Count(terminal(), s) >= max(n, 1)
	}
	// giveUp ends a run that stalled: the session's processes, then the
	// terminal, which also unblocks the reader.
	giveUp := func(what string) {
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		m.Close()
		<-ended
		cmd.Wait()
		t.Fatalf("%s: the terminal showed nothing new for %v; terminal:\n%s", what, ptyStall, terminal())
	}
	stall := time.NewTimer(ptyStall)
	defer stall.Stop()
	for _, st := range steps {
		for !shown(st.Expect, st.Count) {
			select {
			case <-grew:
				stall.Reset(ptyStall)
			case <-stall.C:
				giveUp(fmt.Sprintf("waiting for %q", st.Expect))
			case <-ended:
				if !shown(st.Expect, st.Count) {
					cmd.Wait()
					t.Fatalf("%q never showed; terminal:\n%s", st.Expect, terminal())
				}
			}
		}
		time.Sleep(st.Settle)
		if _, err := m.WriteString(st.Type); err != nil {
			t.Fatal(err)
		}
	}
	// The terminal hangs up once every holder of it has ended.
	for done := false; !done; {
		select {
		case <-grew:
			stall.Reset(ptyStall)
		case <-stall.C:
			giveUp("waiting for the program to end")
		case <-ended:
			done = true
		}
	}
	err = cmd.Wait()
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return terminal(), status
}

// TestTerminalSignalsReachTheForegroundGroupOnce types ^C and ^\ on the
// terminal of a program with a child in its group and one in a group of
// its own: each process must count what Linux gives it (pid 1 used to get
// them twice, the other group once).
func TestTerminalSignalsReachTheForegroundGroupOnce(t *testing.T) {
	requireProcesses(t)
	// Each signal character flushes the terminal's pending output, so
	// the next is typed once its echo showed.
	steps := []ptyStep{{Expect: "ready\n", Type: "\x03"}, {Expect: "^C", Type: "\x1c"},
		{Expect: "^\\", Settle: 300 * time.Millisecond, Type: "end\n"}}
	for _, comp := range testutil.Compilers[:1] {
		bin := cc.Build(t, comp, "jobctl_tty.c")
		want, wantSt := runOnTerminal(t, []string{bin}, nil, steps)
		for _, b := range testutil.Backends() {
			t.Run(b, func(t *testing.T) {
				testutil.RequireBackend(t, b)
				e := elfuse.Require(t)
				got, st := runOnTerminal(t, []string{e, "--backend", b, "--", bin}, nil, steps)
				if got != want || st != wantSt {
					t.Errorf("terminal differs (status %d, native %d):\n%s", st, wantSt, testutil.LineDiff(want, got))
				}
			})
		}
	}
}

// TestTerminalSuspendUnderInteractiveBash runs a program as a job of an
// interactive bash on a terminal, suspends it with ^Z (its handler runs,
// then it stops itself), and brings it back with fg: bash must see the
// job stop (elfuse stops with its pid 1) and the program must run its
// SIGCONT handler and read the terminal again.
func TestTerminalSuspendUnderInteractiveBash(t *testing.T) {
	requireProcesses(t)
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	bin := cc.Build(t, testutil.Compilers[0], "jobctl_suspend.c")
	// The job is typed as $P so that bash shows the same command line
	// natively and under elfuse.
	steps := []ptyStep{
		{Expect: "$ ", Type: "$P\n"},
		{Expect: "ready\n", Type: "one\n"},
		{Expect: "got one\n", Type: "\x1a"},
		{Expect: "$P\n$ ", Type: "jobs\n"},
		{Expect: "jobs\n[1]+  Stopped                 $P\n$ ", Type: "fg\n"},
		// One line at a time: the echo of a line typed with the one
		// the program answers races its answer on Linux too.
		{Expect: "continued\n", Type: "two\n"},
		{Expect: "got two\n", Type: "end\n"},
		{Expect: "lines\n$ ", Type: "exit\n"},
	}
	shell := []string{bashStatic, "--norc", "--noprofile", "-i"}
	want, wantSt := runOnTerminal(t, shell, []string{"PS1=$ ", "P=" + bin}, steps)
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			e := elfuse.Require(t)
			got, st := runOnTerminal(t, shell, []string{"PS1=$ ", "P=" + e + " --backend " + b + " -- " + bin}, steps)
			if got != want || st != wantSt {
				t.Errorf("terminal differs (status %d, native %d):\n%s\nnative:\n%s\nelfuse:\n%s", st, wantSt, testutil.LineDiff(want, got), want, got)
			}
		})
	}
}

// TestInteractiveBashJobControl runs an interactive bash on a terminal,
// natively and as elfuse's pid 1: bash must find itself in the
// terminal's foreground (tcgetpgrp in guest process groups) and run its
// jobs in the foreground by tcsetpgrp, so that ^C ends a job and ^Z stops
// it rather than reaching bash.
func TestInteractiveBashJobControl(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	sleeper := busybox + " sh -c 'echo started; exec " + busybox + " sleep 10'\n"
	reader := busybox + ` sh -c 'echo again; read x; echo "read $x"'`
	// The prompt numbers commands, so each step waits for its own. The
	// reader's command line shows as typed, when it stops, in jobs and at
	// fg; it reads the line typed after fg once it has the terminal back.
	steps := []ptyStep{
		{Expect: "[1]$ ", Type: sleeper},
		{Expect: "started\n", Type: "\x03"},
		{Expect: "[2]$ ", Type: "echo st=$?\n"},
		{Expect: "[3]$ ", Type: reader + "\n"},
		{Expect: "again\n", Type: "\x1a"},
		{Expect: "[4]$ ", Type: "jobs\n"},
		{Expect: "[5]$ ", Type: "fg\n"},
		{Expect: reader, Count: 4, Type: "hello\n"},
		{Expect: "[6]$ ", Type: "exit\n"},
	}
	shell := []string{bashStatic, "--norc", "--noprofile", "-i"}
	env := []string{`PS1=[\#]$ `}
	want, wantSt := runOnTerminal(t, shell, env, steps)
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			e := elfuse.Require(t)
			got, st := runOnTerminal(t, append([]string{e, "--backend", b, "--"}, shell...), env, steps)
			if got != want || st != wantSt {
				t.Errorf("terminal differs (status %d, native %d):\n%s\nnative:\n%s\nelfuse:\n%s", st, wantSt, testutil.LineDiff(want, got), want, got)
			}
		})
	}
}

// jobPids matches bash's report of a background job's pid, which differs
// between a native run and a guest pid namespace.
var jobPids = regexp.MustCompile(`(?m)^(\[\d+\]) \d+$`)

// TestInteractiveBashBackgroundTerminalAccess runs jobs in the background
// of an interactive bash on a terminal: one that reads the terminal must
// stop with SIGTTIN (wait reports it, jobs shows it, and its read goes on
// once fg gives it the terminal, or once bg continues it after ^Z
// stopped it in a foreground read); one that ignores SIGTTIN fails its
// read with EIO; one that writes stops with SIGTTOU only
// while the terminal has TOSTOP, one that sets the terminal up always.
func TestInteractiveBashBackgroundTerminalAccess(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	for _, prog := range []string{"cat", "stty"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("no %s: %v", prog, err)
		}
	}
	wait := "wait %1 2>/dev/null; echo st=$?\n"
	// A job that was reading in the foreground reads again, in the
	// background, once bg continues it after ^Z.
	reader := busybox + " sh -c 'echo reading; exec cat'"
	steps := []ptyStep{
		{Expect: "[1]$ ", Type: "cat & " + wait},
		{Expect: "[2]$ ", Type: "jobs\n"},
		{Expect: "[3]$ ", Type: "fg\n"},
		{Expect: "fg\ncat\n", Type: "hello\n"},
		{Expect: "hello\nhello\n", Type: "\x04"},
		{Expect: "[4]$ ", Type: reader + "\n"},
		{Expect: "reading\n", Type: "\x1a"},
		{Expect: "[5]$ ", Type: "bg; " + wait},
		{Expect: "[6]$ ", Type: "jobs\n"},
		{Expect: "[7]$ ", Type: "fg\n"},
		{Expect: "fg\n" + reader + "\n", Type: "more\n"},
		{Expect: "more\nmore\n", Type: "\x04"},
		{Expect: "[8]$ ", Type: "{ read x <$F; echo y; } &\n"},
		{Expect: "[9]$ ", Type: "echo go >$F; " + wait},
		{Expect: "[10]$ ", Type: "(trap '' TTIN; exec cat 2>/dev/null) & " + wait},
		{Expect: "[11]$ ", Type: "stty tostop; echo x & " + wait},
		{Expect: "[12]$ ", Type: "jobs\n"},
		{Expect: "[13]$ ", Type: "stty -tostop; fg\n"},
		// Setting the terminal up from the background stops even
		// without TOSTOP; busybox cat reads by sendfile.
		{Expect: "[14]$ ", Type: "stty -echoprt & " + wait},
		{Expect: "[15]$ ", Type: "fg\n"},
		{Expect: "[16]$ ", Type: busybox + " cat & " + wait},
		{Expect: "[17]$ ", Type: "fg\n"},
		{Expect: "fg\n" + busybox + " cat\n", Type: "last\n"},
		{Expect: "last\nlast\n", Type: "\x04"},
		{Expect: "[18]$ ", Type: "exit\n"},
	}
	shell := []string{bashStatic, "--norc", "--noprofile", "-i"}
	// A background job waits on the fifo $F until a command line
	// releases it, so its output has its place on the terminal.
	env := func(t *testing.T) []string {
		f := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{`PS1=[\#]$ `, "F=" + f}
	}
	want, wantSt := runOnTerminal(t, shell, env(t), steps)
	want = jobPids.ReplaceAllString(want, "$1 PID")
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			e := elfuse.Require(t)
			got, st := runOnTerminal(t, append([]string{e, "--backend", b, "--"}, shell...), env(t), steps)
			got = jobPids.ReplaceAllString(got, "$1 PID")
			if got != want || st != wantSt {
				t.Errorf("terminal differs (status %d, native %d):\n%s\nnative:\n%s\nelfuse:\n%s", st, wantSt, testutil.LineDiff(want, got), want, got)
			}
		})
	}
}
