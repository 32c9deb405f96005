package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elfuse/elfuse/tests/testutil"
)

// leakRun is one elfuse run under the subreaper.
type leakRun struct {
	mode    string // "exit" or "kill" (SIGKILL the supervisor once ready)
	flags   []string
	argv    []string
	limit   time.Duration
	minSeen int // the run must have had at least this many processes of the elfuse binary at once
}

// elfuseArgv is the elfuse command line of a leak run.
func elfuseArgv(bin, backend string, r leakRun) []string {
	argv := append([]string{bin, "--backend", backend}, r.flags...)
	return append(append(argv, "--"), r.argv...)
}

// runUnderReaper runs argv (whose elfuse processes run the binary bin)
// under the subreaper in a fresh directory and returns the report and the
// run's stdout and stderr.
func runUnderReaper(t *testing.T, bin string, argv []string, r leakRun) (rep reaperReport, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	ready := ""
	if r.mode == "kill" {
		ready = filepath.Join(dir, "ready")
	}
	cfg := reaperConfig{mode: r.mode, ready: ready, elfuse: bin, limit: r.limit, argv: argv}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.limit+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, reaperArgs(cfg)...)
	cmd.Dir = dir
	cmd.Env = append(testutil.Env(), reaperEnv+"=1")
	// Files, not pipes: a leaked process holding the output open must not
	// stall the test.
	outFile, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	var errBuf bytes.Buffer
	cmd.Stdout = outFile
	cmd.Stderr = &errBuf
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	decErr := json.NewDecoder(pr).Decode(&rep)
	pr.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reaper: %v\n%s", err, errBuf.Bytes())
	}
	if decErr != nil {
		t.Fatalf("reaper report: %v\n%s", decErr, errBuf.Bytes())
	}
	if rep.Err != "" {
		t.Fatalf("reaper: %s", rep.Err)
	}
	out, err := os.ReadFile(outFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	return rep, string(out), errBuf.String()
}

// checkNoLeak fails t if the run timed out, never showed the expected
// tree, or left host processes behind.
func checkNoLeak(t *testing.T, r leakRun, rep reaperReport, stderr string) {
	t.Helper()
	if rep.TimedOut {
		t.Errorf("elfuse did not finish within %v and was killed; stderr:\n%s", r.limit, stderr)
	}
	if len(rep.Seen) < r.minSeen {
		t.Errorf("saw at most %d processes of the elfuse binary at once, want >= %d (did the tree exist?): %v",
			len(rep.Seen), r.minSeen, rep.SeenAll)
	}
	if len(rep.Survivors) > 0 {
		var s []string
		for _, p := range rep.Survivors {
			s = append(s, p.String())
		}
		t.Errorf("%d host processes outlived elfuse:\n  %s\nelfuse stderr:\n%s", len(rep.Survivors),
			strings.Join(s, "\n  "), stderr)
	}
}

// countElfuseBinary counts host processes running exactly this elfuse
// binary (a path private to this test run).
func countElfuseBinary(bin string) []hostProc {
	return elfuseProcsExact(allProcs(), bin)
}

func elfuseProcsExact(ps []hostProc, bin string) []hostProc {
	var out []hostProc
	for _, p := range ps {
		if p.Exe == bin && p.State != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// TestProcNoHostProcessLeftBehind: after a normal exit (also when pid 1
// leaves a background child running), after SIGKILL of the supervisor and
// after a fork bomb capped by --max-procs, no host process of the tree
// remains.
func TestProcNoHostProcessLeftBehind(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	bomb := cc.Build(t, testutil.Compilers[0], "proc_bomb.c")
	tests := []struct {
		name       string
		run        leakRun
		wantStatus int
		wantStdout string
	}{
		{
			name: "normal exit of a finished tree",
			run: leakRun{mode: "exit", limit: 60 * time.Second, minSeen: 3,
				argv: sh(`echo a | cat; (/bin/busybox sleep 0.3; echo b) & wait; echo done`)},
			wantStdout: "a\nb\ndone\n",
		},
		{
			name: "pid 1 exits leaving a background child",
			run: leakRun{mode: "exit", limit: 60 * time.Second, minSeen: 3,
				argv: sh(`/bin/busybox sleep 30 & /bin/busybox sleep 0.3; echo bye; exit 4`)},
			wantStatus: 4,
			wantStdout: "bye\n",
		},
		{
			name: "SIGKILL of the supervisor",
			run: leakRun{mode: "kill", limit: 60 * time.Second, minSeen: 5,
				argv: sh(`/bin/busybox sleep 30 & /bin/busybox sleep 30 & (/bin/busybox sleep 30; echo) & /bin/busybox touch ready; wait`)},
			wantStatus: 128 + 9,
		},
		{
			name: "fork bomb under --max-procs 50",
			run: leakRun{mode: "exit", limit: 120 * time.Second, minSeen: 26,
				flags: []string{"--max-procs", "50"}, argv: []string{bomb, "50"}},
			wantStdout: "fork failed with EAGAIN\nprocesses within --max-procs 50: 1\nlimit reached: 1\n",
		},
	}
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := countElfuseBinary(bin)
					rep, out, stderr := runUnderReaper(t, bin, elfuseArgv(bin, b, tt.run), tt.run)
					checkNoLeak(t, tt.run, rep, stderr)
					if rep.Status != tt.wantStatus {
						t.Errorf("exit status %d, want %d", rep.Status, tt.wantStatus)
					}
					if tt.wantStdout != "" && out != tt.wantStdout {
						t.Errorf("stdout %q, want %q", out, tt.wantStdout)
					}
					// Independently of the subreaper: no more processes run
					// the elfuse binary than before.
					if after := countElfuseBinary(bin); len(after) > len(before) {
						t.Errorf("%d processes ran %s before, %d after: %v", len(before), bin, len(after), after)
					}
				})
			}
		})
	}
}

// TestReaperFindsSurvivors checks the leak detector itself, natively: a
// busybox shell's background sleep outlives the shell (nothing kills it),
// and a shell killed by SIGKILL leaves its children behind. The reaper must
// see the tree and report those survivors (and then clean them up).
func TestReaperFindsSurvivors(t *testing.T) {
	requireBusybox(t)
	bb, err := filepath.EvalSymlinks(busybox)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		run       leakRun
		survivors int
		status    int
	}{
		{"background child outlives its shell", leakRun{mode: "exit", limit: 20 * time.Second,
			argv: sh(`/bin/busybox sleep 30 & /bin/busybox sleep 0.3; echo bye`)}, 1, 0},
		{"children outlive a SIGKILLed shell", leakRun{mode: "kill", limit: 20 * time.Second,
			argv: sh(`/bin/busybox sleep 30 & /bin/busybox sleep 30 & /bin/busybox touch ready; wait`)}, 2, 137},
		{"a finished tree leaves nothing", leakRun{mode: "exit", limit: 20 * time.Second,
			argv: sh(`/bin/busybox sleep 0.3 & wait; echo done`)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, _, stderr := runUnderReaper(t, bb, tt.run.argv, tt.run)
			if rep.TimedOut {
				t.Fatalf("timed out: %s", stderr)
			}
			if len(rep.Seen) < 2 {
				t.Errorf("saw %v, want the shell and its child", rep.Seen)
			}
			if len(rep.Survivors) != tt.survivors {
				t.Errorf("survivors %v, want %d", rep.Survivors, tt.survivors)
			}
			if rep.Status != tt.status {
				t.Errorf("status %d, want %d", rep.Status, tt.status)
			}
			if left := descendants(os.Getpid()); len(elfuseProcsExact(left, bb)) > 0 {
				t.Errorf("the reaper did not clean up: %v", left)
			}
		})
	}
}
