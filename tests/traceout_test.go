package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// traceOutScript makes a small tree: a pipeline (two forks, one exec), a
// subshell that execs (fork + exec), a background job and wait, and pid 1
// ending in an exec of a program that exits 3.
const traceOutScript = `echo a | /bin/busybox tr a b; (/bin/busybox echo sub); ` +
	`/bin/busybox sleep 0.1 & wait; /bin/busybox sh -c 'exit 3'`

// traceEvent is one Chrome trace event as --trace-out writes it.
type traceEvent struct {
	Ph   string          `json:"ph"`
	Name string          `json:"name"`
	Cat  string          `json:"cat"`
	Pid  int             `json:"pid"`
	Tid  int             `json:"tid"`
	Ts   float64         `json:"ts"`
	Dur  float64         `json:"dur"`
	ID   uint64          `json:"id"`
	Args json.RawMessage `json:"args"`
}

// parseTraceOut requires the file to be one JSON object with the
// traceEvents array and returns the events.
func parseTraceOut(t *testing.T, path string) []traceEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TraceEvents     []traceEvent `json:"traceEvents"`
		DisplayTimeUnit string       `json:"displayTimeUnit"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("--trace-out file is not valid JSON: %v\n%s", err, b)
	}
	if file.DisplayTimeUnit != "ms" {
		t.Errorf("displayTimeUnit %q, want ms", file.DisplayTimeUnit)
	}
	return file.TraceEvents
}

// nativeTree runs argv under strace and returns the number of processes
// it made and the argv of every successful execve after the first.
func nativeTree(t *testing.T, dir string, argv ...string) (procs int, execs []string, out string) {
	t.Helper()
	strace, why := testutil.LookCommand("strace")
	if why != "" {
		t.Skip(why)
	}
	log := filepath.Join(dir, "native.strace")
	out = runTraced(t, dir, append([]string{strace, "-f", "-q", "-s", "256", "-e", "trace=execve", "-o", log}, argv...)...)
	pids := map[string]bool{}
	line := regexp.MustCompile(`^(\d+) +(.*)$`)
	exe := regexp.MustCompile(`^execve\("[^"]*", \[(.*)\], .* = 0$`)
	resumed := regexp.MustCompile(`^<\.\.\. execve resumed>`)
	first := true
	unfinished := map[string]string{} // pid → its call's first half
	for _, l := range strings.Split(readFile(t, log), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		pids[m[1]] = true
		call := m[2]
		if head, ok := strings.CutSuffix(call, " <unfinished ...>"); ok {
			unfinished[m[1]] = head
			continue
		}
		if loc := resumed.FindStringIndex(call); loc != nil {
			call = unfinished[m[1]] + call[loc[1]:]
		}
		if e := exe.FindStringSubmatch(call); e != nil {
			if first {
				first = false
				continue
			}
			var args []string
			if err := json.Unmarshal([]byte("["+e[1]+"]"), &args); err != nil {
				t.Fatalf("strace argv %s: %v", e[1], err)
			}
			execs = append(execs, strings.Join(args, " "))
		}
	}
	return len(pids), execs, out
}

// TestTraceOutTimeline runs a small busybox sh tree natively under strace
// and under elfuse --trace-out, and checks the timeline's shape against
// the native run: as many processes, the same exec argvs, every syscall
// inside its process's life, one fork flow per child from a fork-like
// syscall of its parent, pid 1's exit status.
func TestTraceOutTimeline(t *testing.T) {
	bin := elfuse.Require(t)
	dir := t.TempDir()
	argv := []string{"/bin/busybox", "sh", "-c", traceOutScript}
	nprocs, nexecs, native := nativeTree(t, dir, argv...)
	if nprocs < 5 {
		t.Fatalf("strace saw %d processes, want at least 5", nprocs)
	}
	sort.Strings(nexecs)
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			path := filepath.Join(dir, "elfuse-"+backend+".json")
			got := runTraced(t, dir, append([]string{bin, "--backend", backend, "--trace-out", path, "--"}, argv...)...)
			if got != native {
				t.Errorf("output: native %q, elfuse %q", native, got)
			}
			checkTimeline(t, parseTraceOut(t, path), nprocs, nexecs)
		})
	}
}

// checkTimeline checks the events of a complete run.
func checkTimeline(t *testing.T, evs []traceEvent, nprocs int, nexecs []string) {
	t.Helper()
	lives := map[int]traceEvent{}
	pids := map[int]bool{}
	var execs []string
	starts := map[uint64]traceEvent{}
	var ends []traceEvent
	for _, e := range evs {
		if e.Pid != 0 {
			pids[e.Pid] = true
		}
		switch {
		case e.Ph == "X" && e.Cat == "process":
			if _, dup := lives[e.Pid]; dup {
				t.Errorf("two life events for pid %d", e.Pid)
			}
			lives[e.Pid] = e
		case e.Ph == "i" && e.Name == "exec":
			var a struct{ Argv []string }
			if err := json.Unmarshal(e.Args, &a); err != nil {
				t.Fatalf("exec args %s: %v", e.Args, err)
			}
			execs = append(execs, strings.Join(a.Argv, " "))
		case e.Ph == "s":
			starts[e.ID] = e
		case e.Ph == "f":
			ends = append(ends, e)
		}
	}
	if len(pids) != nprocs || len(lives) != nprocs {
		t.Errorf("%d pids and %d lives in the timeline, native made %d processes", len(pids), len(lives), nprocs)
	}
	sort.Strings(execs)
	if fmt.Sprint(execs) != fmt.Sprint(nexecs) {
		t.Errorf("execs:\nnative %q\nelfuse %q", nexecs, execs)
	}
	for _, e := range evs {
		if e.Ph != "X" || e.Cat != "syscall" {
			continue
		}
		l, ok := lives[e.Pid]
		if !ok {
			t.Errorf("syscall %s of pid %d, which has no life", e.Name, e.Pid)
			continue
		}
		if e.Ts < l.Ts || e.Ts+e.Dur > l.Ts+l.Dur {
			t.Errorf("syscall %s [%f, +%f] of pid %d outside its life [%f, +%f]", e.Name, e.Ts, e.Dur, e.Pid, l.Ts, l.Dur)
		}
	}
	if len(ends) != nprocs-1 {
		t.Errorf("%d fork flows end in a child, want %d (every process but pid 1)", len(ends), nprocs-1)
	}
	for _, f := range ends {
		s, ok := starts[f.ID]
		if !ok {
			t.Errorf("flow %d into pid %d has no start", f.ID, f.Pid)
			continue
		}
		if s.Pid == f.Pid {
			t.Errorf("flow %d of pid %d starts in the same process", f.ID, f.Pid)
		}
		// The start is inside a fork-like syscall of the parent.
		inFork := false
		for _, e := range evs {
			if e.Ph == "X" && e.Cat == "syscall" && e.Pid == s.Pid && e.Tid == s.Tid &&
				(e.Name == "fork" || e.Name == "vfork" || e.Name == "clone" || e.Name == "clone3") &&
				e.Ts <= s.Ts && s.Ts <= e.Ts+e.Dur {
				inFork = true
			}
		}
		if !inFork {
			t.Errorf("flow %d into pid %d does not start in a fork of pid %d", f.ID, f.Pid, s.Pid)
		}
		if l := lives[f.Pid]; f.Ts < l.Ts || f.Ts > l.Ts+l.Dur || s.Ts > f.Ts {
			t.Errorf("flow %d: start %f, end %f, child's life [%f, +%f]", f.ID, s.Ts, f.Ts, l.Ts, l.Dur)
		}
	}
	var status struct{ Status, Wait_status string }
	if err := json.Unmarshal(lives[1].Args, &status); err != nil || status.Status != "exited with 3" {
		t.Errorf("pid 1's life args %s, want exited with 3 (%v)", lives[1].Args, err)
	}
}

// TestTraceOutInterrupted sends SIGINT to elfuse (as `timeout -s INT`
// does) once its pid 1 is a long sleep, and requires the file to
// be valid JSON, closed by the supervisor, with pid 1 killed by SIGINT.
func TestTraceOutInterrupted(t *testing.T) {
	bin := elfuse.Require(t)
	dir := t.TempDir()
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			path := filepath.Join(dir, "elfuse-"+backend+".json")
			// pid 1 ends as a sleep, which SIGINT kills (a shell waiting
			// for a child would wait on, natively too); the background
			// sleep is left for elfuse to kill.
			script := `/bin/busybox sleep 1000 & exec /bin/busybox sleep 1001`
			cmd := exec.Command(bin, "--backend", backend, "--trace-out", path, "--", "/bin/busybox", "sh", "-c", script)
			cmd.Dir, cmd.Env = dir, testutil.Env()
			// No controlling terminal: the supervisor relays SIGINT to pid 1
			// as it does for a signal sent to elfuse alone.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Wait for the sleep's exec in the timeline: the tree is mid-run.
			for {
				// The file appears when the supervisor starts.
				if b, _ := os.ReadFile(path); strings.Contains(string(b), `"argv":["/bin/busybox","sleep","1001"]`) {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("elfuse ended before the sleep ran: %v\n%s", err, readFile(t, path))
				default:
				}
				syscall.Select(0, nil, nil, nil, &syscall.Timeval{Usec: 20000})
			}
			cmd.Process.Signal(os.Interrupt)
			err := <-done
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 128+int(syscall.SIGINT) {
				t.Errorf("elfuse ended with %v, want exit status %d", err, 128+int(syscall.SIGINT))
			}
			evs := parseTraceOut(t, path)
			closed, killed := false, false
			for _, e := range evs {
				if e.Ph == "M" && e.Name == "elfuse" {
					closed = true
				}
				if e.Ph == "X" && e.Cat == "process" && e.Pid == 1 {
					killed = strings.Contains(string(e.Args), `"killed by SIGINT"`)
				}
			}
			if !closed || !killed {
				t.Errorf("closing event %v, pid 1 killed by SIGINT %v:\n%s", closed, killed, readFile(t, path))
			}
		})
	}
}
