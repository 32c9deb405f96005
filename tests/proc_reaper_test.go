package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The leak tests need to find every host process an elfuse run created,
// including the ones that outlive it: a process whose parent dies is
// reparented to the nearest PR_SET_CHILD_SUBREAPER ancestor. So the test
// binary re-executes itself as a small subreaper (selected by reaperEnv)
// that starts elfuse, watches its tree, and reports as JSON on fd 3 which
// processes were there while it ran and which survived it.

const reaperEnv = "ELFUSE_TEST_REAPER"

func init() {
	if os.Getenv(reaperEnv) == "1" {
		os.Exit(reaperMain(os.Args[1:]))
	}
}

// hostProc is one host process seen in the tree.
type hostProc struct {
	Pid   int
	PPid  int
	Comm  string
	Exe   string
	State string
}

func (p hostProc) String() string {
	return fmt.Sprintf("pid %d ppid %d %s %q exe %q", p.Pid, p.PPid, p.State, p.Comm, p.Exe)
}

// reaperReport is what the reaper tells the test.
type reaperReport struct {
	Status    int        // elfuse's exit status, 128+N for signal N
	Seen      []hostProc // most processes of the elfuse binary (supervisor, guestprocs) seen at once
	SeenAll   []hostProc // most elfuse processes (stubs included) seen at once
	Survivors []hostProc // descendants still alive after elfuse ended
	TimedOut  bool       // elfuse did not end by itself and was killed
	Err       string
}

// reaperConfig is the reaper's command line:
//
//	MODE READYFILE ELFUSE-BINARY SECONDS -- ELFUSE-ARGV...
//
// MODE "exit" waits for elfuse to end; "kill" waits for READYFILE to
// appear, then SIGKILLs elfuse. SECONDS bounds the run.
type reaperConfig struct {
	mode, ready, elfuse string
	limit               time.Duration
	argv                []string
}

func reaperArgs(c reaperConfig) []string {
	return append([]string{c.mode, c.ready, c.elfuse, strconv.Itoa(int(c.limit / time.Second)), "--"}, c.argv...)
}

func reaperMain(args []string) int {
	rep := reaperReport{}
	out := os.NewFile(3, "report")
	defer func() {
		json.NewEncoder(out).Encode(rep)
		out.Close()
	}()
	if len(args) < 6 || args[4] != "--" {
		rep.Err = fmt.Sprintf("bad reaper arguments %q", args)
		return 2
	}
	secs, _ := strconv.Atoi(args[3])
	c := reaperConfig{mode: args[0], ready: args[1], elfuse: args[2], limit: time.Duration(secs) * time.Second, argv: args[5:]}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		rep.Err = "PR_SET_CHILD_SUBREAPER: " + err.Error()
		return 2
	}
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		rep.Err = err.Error()
		return 2
	}
	me := os.Getpid()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(c.limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-deadline:
			rep.TimedOut = true
			cmd.Process.Kill()
			waitErr = <-done
			break loop
		case <-tick.C:
			rep.observe(me, c.elfuse)
			if c.mode == "kill" && c.ready != "" {
				if _, err := os.Stat(c.ready); err == nil {
					// Let the tree settle a moment, then look once more.
					time.Sleep(200 * time.Millisecond)
					rep.observe(me, c.elfuse)
					cmd.Process.Kill()
					waitErr = <-done
					break loop
				}
			}
		}
	}
	rep.Status = exitStatus(waitErr, cmd.ProcessState)
	// Give the tree a moment to go away (Pdeathsig is asynchronous), then
	// report and kill what is left.
	var alive []hostProc
	for end := time.Now().Add(3 * time.Second); ; {
		reapZombies()
		alive = descendants(me)
		if len(alive) == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	rep.Survivors = alive
	for _, p := range alive {
		unix.Kill(p.Pid, unix.SIGKILL)
	}
	for end := time.Now().Add(2 * time.Second); len(descendants(me)) > 0 && time.Now().Before(end); {
		reapZombies()
		time.Sleep(10 * time.Millisecond)
	}
	reapZombies()
	return 0
}

// observe records the tree below the reaper if it is the largest yet.
func (rep *reaperReport) observe(me int, elfuseBin string) {
	all := elfuseProcs(descendants(me), elfuseBin)
	if len(all) > len(rep.SeenAll) {
		rep.SeenAll = all
	}
	if bin := elfuseProcsExact(all, elfuseBin); len(bin) > len(rep.Seen) {
		rep.Seen = bin
	}
}

func exitStatus(err error, ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// reapZombies collects every exited child (orphans adopted by the reaper
// included) without blocking.
func reapZombies() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// readProc describes one /proc entry; ok is false when it vanished.
func readProc(pid int) (hostProc, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return hostProc{}, false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return hostProc{}, false
	}
	f := strings.Fields(s[close+1:])
	if len(f) < 2 {
		return hostProc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return hostProc{Pid: pid, PPid: ppid, Comm: s[open+1 : close], Exe: exe, State: f[0]}, true
}

// allProcs lists every process of the host.
func allProcs() []hostProc {
	ents, _ := os.ReadDir("/proc")
	var ps []hostProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// descendants lists the live (non-zombie) processes below root.
func descendants(root int) []hostProc {
	ps := allProcs()
	children := map[int][]hostProc{}
	for _, p := range ps {
		children[p.PPid] = append(children[p.PPid], p)
	}
	var out []hostProc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.Pid)
			if c.State != "Z" && c.State != "X" {
				out = append(out, c)
			}
		}
	}
	return out
}

// isElfuseProc tells elfuse's host processes: the supervisor and the
// guestprocs run the elfuse binary; the ptrace backend's stubs run from a
// memfd and name themselves elfuse-stub.
func isElfuseProc(p hostProc, elfuseBin string) bool {
	return p.Exe == elfuseBin || p.Comm == "elfuse-stub" || strings.Contains(p.Exe, "elfuse-ptrace-stub") ||
		strings.HasPrefix(filepath.Base(p.Exe), "elfuse-stub")
}

func elfuseProcs(ps []hostProc, elfuseBin string) []hostProc {
	var out []hostProc
	for _, p := range ps {
		if isElfuseProc(p, elfuseBin) {
			out = append(out, p)
		}
	}
	return out
}
