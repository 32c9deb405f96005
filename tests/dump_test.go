package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elfuse/elfuse/tests/testutil"
)

// dumpProc is the part of `elfuse dump --json` the test checks (decoded
// independently of the supervisor's types, as a tool would).
type dumpProc struct {
	Pid       int32    `json:"pid"`
	Ppid      int32    `json:"ppid"`
	Pgid      int32    `json:"pgid"`
	HostPid   int      `json:"host_pid"`
	State     string   `json:"state"`
	Syscall   string   `json:"syscall"`
	SyscallMs int64    `json:"syscall_ms"`
	Argv      []string `json:"argv"`
	Cwd       string   `json:"cwd"`
	Threads   []struct {
		Tid int32 `json:"tid"`
	} `json:"threads"`
	FDs []struct {
		FD     int32  `json:"fd"`
		Target string `json:"target"`
	} `json:"fds"`
	Regions []struct {
		Start, End uint64
		Perms      string
	} `json:"regions"`
	Blocked []string `json:"blocked"`
	Pending []string `json:"pending"`
	Error   string   `json:"error"`
}

// startTree starts elfuse on a shell with two sleeping children and returns
// the supervisor and the file its stderr goes to; the tree is killed at
// the end of the test.
func startTree(t *testing.T, bin, backend string, env []string) (*exec.Cmd, string) {
	t.Helper()
	errPath := filepath.Join(t.TempDir(), "stderr")
	errFile, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd := exec.Command(bin, "--backend="+backend, "/bin/busybox", "sh", "-c",
		"/bin/busybox sleep 30 & /bin/busybox sleep 30; wait")
	cmd.Env, cmd.Stderr, cmd.Dir = env, errFile, t.TempDir()
	// Started as a shell starts a job: elfuse leads its process group, so
	// pid 1 leads group 1 (elsewhere it would be in the outside group).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL) // Pdeathsig takes the guestprocs
		cmd.Wait()
	})
	return cmd, errPath
}

// dumpJSON runs `elfuse dump --json args...`.
func dumpJSON(t *testing.T, bin string, env []string, args ...string) ([]dumpProc, string, error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"dump", "--json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	var procs []dumpProc
	if err := json.Unmarshal(stdout.Bytes(), &procs); err != nil {
		t.Fatalf("dump --json is not one JSON array: %v\n%s", err, stdout.String())
	}
	return procs, stderr.String(), nil
}

// settled reports whether the tree reached its steady shape: the shell
// waiting and both children sleeping.
func settled(procs []dumpProc) bool {
	if len(procs) != 3 {
		return false
	}
	for _, p := range procs {
		if p.State != "in syscall" || len(p.Argv) == 0 {
			return false
		}
	}
	return procs[1].Argv[len(procs[1].Argv)-1] == "30" && procs[2].Argv[len(procs[2].Argv)-1] == "30"
}

func TestDumpJSONShowsTheLiveTree(t *testing.T) {
	eachDumpBackend(t, func(t *testing.T, bin, backend string, env []string) {
		sup, errPath := startTree(t, bin, backend, env)

		var procs []dumpProc
		deadline := time.Now().Add(20 * time.Second)
		for {
			var err error
			var stderr string
			procs, stderr, err = dumpJSON(t, bin, env)
			if err == nil && settled(procs) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tree never settled: err %v, stderr %q, last dump %+v", err, stderr, procs)
			}
			time.Sleep(100 * time.Millisecond)
		}

		hostPids := map[int]bool{}
		for i, p := range procs {
			if want := int32(i + 1); p.Pid != want {
				t.Errorf("process %d has pid %d, want %d", i, p.Pid, want)
			}
			if p.HostPid <= 0 || hostPids[p.HostPid] {
				t.Errorf("pid %d: host pid %d not positive and distinct", p.Pid, p.HostPid)
			}
			hostPids[p.HostPid] = true
			if _, err := os.Stat("/proc/" + strconv.Itoa(p.HostPid)); err != nil {
				t.Errorf("pid %d: host pid %d is not a live process", p.Pid, p.HostPid)
			}
			if p.Pgid != 1 {
				t.Errorf("pid %d: pgid %d, want 1 (a non-interactive shell does no job control)", p.Pid, p.Pgid)
			}
			if p.Error != "" {
				t.Errorf("pid %d: no details: %s", p.Pid, p.Error)
			}
			if len(p.Threads) != 1 || p.Threads[0].Tid != p.Pid {
				t.Errorf("pid %d: threads %+v, want one with tid %d", p.Pid, p.Threads, p.Pid)
			}
			fds := map[int32]bool{}
			for _, f := range p.FDs {
				fds[f.FD] = f.Target != "" && f.Target != "?"
			}
			if !fds[0] || !fds[1] || !fds[2] {
				t.Errorf("pid %d: descriptors %+v lack a named 0, 1 or 2", p.Pid, p.FDs)
			}
			if len(p.Regions) == 0 {
				t.Errorf("pid %d: no memory regions", p.Pid)
			}
			for _, r := range p.Regions {
				if r.End <= r.Start || len(r.Perms) != 4 {
					t.Errorf("pid %d: bad region %+v", p.Pid, r)
				}
			}
			if !filepath.IsAbs(p.Cwd) {
				t.Errorf("pid %d: cwd %q not absolute", p.Pid, p.Cwd)
			}
		}
		if p := procs[0]; p.Ppid != 0 || p.Syscall != "wait4" || p.Argv[1] != "sh" {
			t.Errorf("pid 1 = %+v, want the shell (ppid 0) in wait4", p)
		}
		for _, p := range procs[1:] {
			if p.Ppid != 1 {
				t.Errorf("pid %d: ppid %d, want 1", p.Pid, p.Ppid)
			}
			if p.Syscall != "clock_nanosleep" && p.Syscall != "nanosleep" {
				t.Errorf("pid %d: in syscall %q, want a sleep", p.Pid, p.Syscall)
			}
			if strings.Join(p.Argv, " ") != "/bin/busybox sleep 30" {
				t.Errorf("pid %d: argv %q", p.Pid, p.Argv)
			}
		}

		// The same tree by ID, as text.
		cmd := exec.Command(bin, "dump", strconv.Itoa(sup.Process.Pid))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dump by ID: %v: %s", err, out)
		}
		for _, want := range []string{"3 guest process(es)", "\n    pid 2  ppid 1", "in syscall wait4 for", "argv  /bin/busybox sleep 30"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("text dump lacks %q:\n%s", want, out)
			}
		}

		// SIGUSR1 prints the text on the supervisor's stderr.
		sup.Process.Signal(syscall.SIGUSR1)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			b, _ := os.ReadFile(errPath)
			if strings.Contains(string(b), "3 guest process(es)") && strings.Contains(string(b), "regions") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no dump on stderr after SIGUSR1: %q", b)
			}
		}
		if sup.ProcessState != nil {
			t.Fatalf("supervisor ended: %v", sup.ProcessState)
		}

		// Killing the tree removes it from the list.
		sup.Process.Signal(syscall.SIGKILL)
		sup.Wait()
		for pid := range hostPids {
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("guestproc host pid %d outlived its supervisor", pid)
					break
				}
			}
		}
		if _, stderr, err := dumpJSON(t, bin, env); err == nil || !strings.Contains(stderr, "no running elfuse") {
			t.Errorf("dump with no supervisor: err %v, stderr %q; want the no-elfuse error", err, stderr)
		}
	})
}

func TestDumpPicksNoneOfSeveralSupervisors(t *testing.T) {
	bin := elfuse.Require(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	env := append(testutil.Env(), "XDG_RUNTIME_DIR="+t.TempDir())
	a, _ := startTree(t, bin, "ptrace", env)
	b, _ := startTree(t, bin, "ptrace", env)
	var stderr string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		_, stderr, err = dumpJSON(t, bin, env)
		if err != nil && strings.Contains(stderr, "several") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dump with two supervisors: err %v, stderr %q; want the several-running error", err, stderr)
		}
	}
	for _, pid := range []int{a.Process.Pid, b.Process.Pid} {
		if !strings.Contains(stderr, strconv.Itoa(pid)) {
			t.Errorf("error %q does not list supervisor %d", stderr, pid)
		}
	}
}

// A process another one stopped is dumped as it was when it stopped (its
// guestproc, stopped too, cannot answer): descriptors, regions, cwd, its
// thread, and the signal sent to it since as pending.
func TestDumpShowsAStoppedProcess(t *testing.T) {
	eachDumpBackend(t, func(t *testing.T, bin, backend string, env []string) {
		// Stopped once it runs the sleep: one stopped before its
		// first instruction has no /proc of its own yet.
		cmd := exec.Command(bin, "--backend="+backend, "/bin/busybox", "sh", "-c",
			`/bin/busybox sleep 30 & p=$!
			until [ "$(/bin/busybox tr '\0' ' ' < /proc/$p/cmdline)" = "/bin/busybox sleep 30 " ]; do :; done
			kill -STOP $p; kill -USR1 $p; /bin/busybox sleep 30; wait`)
		cmd.Env, cmd.Dir = env, t.TempDir()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		})
		var p dumpProc
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			procs, _, err := dumpJSON(t, bin, env)
			if err == nil && len(procs) == 3 && procs[1].State == "stopped" && len(procs[1].Pending) > 0 {
				p = procs[1]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no stopped process with a pending signal: err %v, last dump %+v", err, procs)
			}
		}
		if p.Error != "" || len(p.Threads) != 1 || p.Threads[0].Tid != 2 || len(p.Regions) == 0 || !filepath.IsAbs(p.Cwd) {
			t.Errorf("stopped process = %+v, want its details as it stopped", p)
		}
		fds := map[int32]bool{}
		for _, f := range p.FDs {
			fds[f.FD] = f.Target != ""
		}
		if !fds[0] || !fds[1] || !fds[2] {
			t.Errorf("descriptors %+v lack a named 0, 1 or 2", p.FDs)
		}
		if strings.Join(p.Pending, ",") != "SIGUSR1" {
			t.Errorf("pending %v, want the SIGUSR1 sent while it was stopped", p.Pending)
		}
	})
}

// eachDumpBackend runs fn on every backend, with busybox and a runtime
// directory of its own for the supervisors' control sockets (env).
func eachDumpBackend(t *testing.T, fn func(t *testing.T, bin, backend string, env []string)) {
	bin := elfuse.Require(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			fn(t, bin, backend, append(testutil.Env(), "XDG_RUNTIME_DIR="+t.TempDir()))
		})
	}
}
