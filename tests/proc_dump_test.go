package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elfuse/elfuse/tests/testutil"
)

// The dump test runs a live tree (a busybox shell waiting for a background
// `sleep`), asks `elfuse dump --json` about it and checks the shape of the
// answer. `elfuse dump` with no ID connects to the only running supervisor;
// the supervisor's control socket lives under the user's runtime directory,
// so both commands get a private XDG_RUNTIME_DIR: no other elfuse on the
// machine can make the choice ambiguous.

// shapeProc is one process of a dump, with its keys normalised (lower case,
// no '_' or '-') so that pid/Pid/host_pid/HostPid all match.
type shapeProc map[string]any

func normKey(k string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
}

func (p shapeProc) num(key string) (int, bool) {
	v, ok := p[key].(float64)
	return int(v), ok
}

func (p shapeProc) str(key string) string {
	s, _ := p[key].(string)
	return s
}

func (p shapeProc) argv() []string {
	l, _ := p["argv"].([]any)
	var out []string
	for _, a := range l {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// shapeProcs collects every JSON object with both "pid" and "ppid" keys,
// wherever it is (a flat list or a nested tree).
func shapeProcs(v any) []shapeProc {
	var out []shapeProc
	switch x := v.(type) {
	case map[string]any:
		n := shapeProc{}
		for k, val := range x {
			n[normKey(k)] = val
		}
		_, hasPid := n["pid"]
		_, hasPPid := n["ppid"]
		if hasPid && hasPPid {
			out = append(out, n)
		}
		for _, val := range x {
			out = append(out, shapeProcs(val)...)
		}
	case []any:
		for _, val := range x {
			out = append(out, shapeProcs(val)...)
		}
	}
	return out
}

// collectionLen is the size of a JSON array or object (-1 otherwise).
func collectionLen(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	}
	return -1
}

// hasStdFDs tells whether a descriptor table (an object keyed by number, or
// a list of objects with a numeric fd field, or of "N -> what" strings)
// names descriptors 0, 1 and 2.
func hasStdFDs(v any) bool {
	seen := map[int]bool{}
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if n, err := strconv.Atoi(k); err == nil {
				seen[n] = true
			}
		}
	case []any:
		for _, e := range x {
			switch y := e.(type) {
			case map[string]any:
				for k, val := range y {
					if f, ok := val.(float64); ok && (normKey(k) == "fd" || normKey(k) == "num" || normKey(k) == "number") {
						seen[int(f)] = true
					}
				}
			case string:
				var n int
				if _, err := fmt.Sscanf(strings.TrimSpace(y), "%d", &n); err == nil {
					seen[n] = true
				}
			case float64:
				seen[int(y)] = true
			}
		}
	}
	return seen[0] && seen[1] && seen[2]
}

func TestProcDumpJSONShape(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			checkDump(t, elfuse.Require(t), b)
		})
	}
}

func checkDump(t *testing.T, bin, backend string) {
	dir := t.TempDir()
	runtimeDir := t.TempDir()
	if err := os.Chmod(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(testutil.Env(), "XDG_RUNTIME_DIR="+runtimeDir)
	sup := exec.Command(bin, "--backend", backend, "--",
		busybox, "sh", "-c", `/bin/busybox sleep 30 & /bin/busybox touch ready; wait`)
	sup.Dir = dir
	sup.Env = env
	logf, err := os.Create(filepath.Join(t.TempDir(), "supervisor.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	sup.Stdout, sup.Stderr = logf, logf
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { sup.Wait(); close(exited) }()
	defer func() {
		sup.Process.Kill()
		<-exited
	}()
	supLog := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }

	if !waitFor(30*time.Second, exited, func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil }) {
		t.Fatalf("the guest tree never got ready; supervisor output:\n%s", supLog())
	}
	dump := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, append([]string{"dump"}, args...)...)
		cmd.Env = env
		cmd.Dir = dir
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	// Poll: the sleep may not have reached its nanosleep yet.
	var procs []shapeProc
	var raw, lastErr string
	var sh, sleep shapeProc
	ok := waitFor(15*time.Second, exited, func() bool {
		out, errOut, err := dump("--json")
		raw = out
		if err != nil {
			lastErr = fmt.Sprintf("%v: %s", err, errOut)
			return false
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			lastErr = fmt.Sprintf("not JSON: %v", err)
			return false
		}
		procs = shapeProcs(v)
		sh, sleep = nil, nil
		for _, p := range procs {
			switch a := strings.Join(p.argv(), " "); {
			case strings.Contains(a, "sleep 30") && !strings.Contains(a, "sh -c"):
				sleep = p
			case strings.Contains(a, "sh -c"):
				sh = p
			}
		}
		return sh != nil && sleep != nil && strings.Contains(activity(sleep), "sleep")
	})
	if !ok {
		t.Fatalf("elfuse dump --json never showed the shell and its sleeping child (last error %s); output:\n%s\nsupervisor output:\n%s",
			lastErr, raw, supLog())
	}
	if len(procs) != 2 {
		t.Errorf("dump lists %d processes, want 2 (the shell and its sleep):\n%s", len(procs), raw)
	}
	if pid, _ := sh.num("pid"); pid != 1 {
		t.Errorf("the shell has pid %d, want 1", pid)
	}
	if ppid, ok := sh.num("ppid"); !ok || ppid != 0 {
		t.Errorf("the shell has ppid %v, want 0", sh["ppid"])
	}
	spid, _ := sleep.num("pid")
	if ppid, _ := sleep.num("ppid"); spid <= 1 || ppid != 1 {
		t.Errorf("the sleep has pid %d ppid %d, want a pid > 1 whose parent is 1", spid, ppid)
	}
	// busybox sh's wait builtin blocks in rt_sigsuspend until SIGCHLD,
	// bash's in wait4.
	if st := activity(sh); !strings.Contains(st, "wait") && !strings.Contains(st, "sigsuspend") {
		t.Errorf("the shell's state %q does not say it waits (wait4 or rt_sigsuspend)", st)
	}
	for _, p := range []shapeProc{sh, sleep} {
		name := strings.Join(p.argv(), " ")
		for _, k := range []string{"pgid", "sid", "hostpid"} {
			if _, ok := p.num(k); !ok {
				t.Errorf("%s: no numeric %q", name, k)
			}
		}
		if hp, ok := p.num("hostpid"); ok {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", hp))
			if exe != bin {
				t.Errorf("%s: host pid %d runs %q, want the elfuse binary %s", name, hp, exe, bin)
			}
		}
		if cwd := p.str("cwd"); cwd != dir {
			t.Errorf("%s: cwd %q, want %q", name, cwd, dir)
		}
		if !hasStdFDs(p["fds"]) {
			t.Errorf("%s: fds %v do not name 0, 1 and 2", name, p["fds"])
		}
		if n := collectionLen(p["regions"]); n < 3 {
			t.Errorf("%s: regions %v: want a list of the memory regions", name, p["regions"])
		}
	}
	// The human form names the processes too.
	if out, errOut, err := dump(); err != nil || !strings.Contains(out, "sleep") {
		t.Errorf("elfuse dump: %v, stderr %q; output does not mention the sleep:\n%s", err, errOut, out)
	}
	// Once the supervisor is gone there is nothing to dump.
	sup.Process.Kill()
	<-exited
	if out, _, err := dump("--json"); err == nil {
		t.Errorf("elfuse dump --json succeeded with no supervisor running:\n%s", out)
	}
}

// activity is a process's state with the syscall it is in, if the dump
// names that separately ("in syscall" + "nanosleep").
func activity(p shapeProc) string { return p.str("state") + " " + p.str("syscall") }

// waitFor polls cond every 50 ms until it holds, the time runs out or
// stop is closed.
func waitFor(limit time.Duration, stop <-chan struct{}, cond func() bool) bool {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		select {
		case <-stop:
			return cond()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// TestDumpShapeHelpers checks the JSON readers the dump test relies on,
// on the shapes a dump may reasonably take.
func TestDumpShapeHelpers(t *testing.T) {
	tests := []struct {
		name      string
		json      string
		procs     int
		firstFDs  bool
		firstArgv string
	}{
		{"flat list", `[{"pid":1,"ppid":0,"argv":["sh","-c","x"],"fds":{"0":"pipe","1":"file","2":"tty"}},{"pid":2,"ppid":1}]`, 2, true, "sh -c x"},
		{"nested tree", `{"supervisor":123,"processes":[{"Pid":1,"PPid":0,"FDs":[{"fd":0},{"fd":1},{"fd":2}],"children":[{"pid":2,"ppid":1}]}]}`, 2, true, ""},
		{"fd strings", `{"procs":[{"pid":1,"ppid":0,"fds":["0 -> /dev/null","1 -> pipe:[3]","2 -> pipe:[4]"]}]}`, 1, true, ""},
		{"missing stderr", `[{"pid":1,"ppid":0,"fds":{"0":"a","1":"b"}}]`, 1, false, ""},
		{"no process objects", `{"pid":1,"children":[]}`, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
				t.Fatal(err)
			}
			ps := shapeProcs(v)
			if len(ps) != tt.procs {
				t.Fatalf("found %d processes, want %d", len(ps), tt.procs)
			}
			if len(ps) == 0 {
				return
			}
			if got := hasStdFDs(ps[0]["fds"]); got != tt.firstFDs {
				t.Errorf("hasStdFDs = %v, want %v", got, tt.firstFDs)
			}
			if got := strings.Join(ps[0].argv(), " "); got != tt.firstArgv {
				t.Errorf("argv %q, want %q", got, tt.firstArgv)
			}
		})
	}
}
