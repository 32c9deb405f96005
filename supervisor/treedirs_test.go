package supervisor

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// deadPid returns the pid of a process that has ended and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func mkTreeDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSweepTreeDirsIn: the tree directories of dead supervisors go, with
// what they hold; those of live ones, this process's own, symlinks and
// names that only look alike stay.
func TestSweepTreeDirsIn(t *testing.T) {
	base := t.TempDir()
	dead, live, self := deadPid(t), 77001, 77002
	alive := func(pid int) bool { return pid == live || pid == self }
	d, l, me := strconv.Itoa(dead), strconv.Itoa(live), strconv.Itoa(self)
	gone := []string{"elfuse-shm-" + d, "elfuse-cwd-" + d,
		// Renamed for removal by sweeps that did not finish: one of a
		// dead supervisor, one of an earlier process with this pid.
		".elfuse-gone-" + d + "-elfuse-shm-" + l, ".elfuse-gone-" + me + "-elfuse-cwd-" + d}
	kept := []string{"elfuse-shm-" + l, "elfuse-cwd-" + me,
		"elfuse-shm-0" + d, "elfuse-shm-x", "elfuse-tmp-" + d,
		".elfuse-gone-" + l + "-elfuse-shm-" + d, // a sweep still at work
		".elfuse-gone-" + d + "-notours"}
	for _, n := range append(append([]string{}, gone...), kept...) {
		mkTreeDir(t, filepath.Join(base, n))
	}
	other := t.TempDir()
	link := "elfuse-shm-" + strconv.Itoa(deadPid(t))
	if err := os.Symlink(other, filepath.Join(base, link)); err != nil {
		t.Fatal(err)
	}
	mkTreeDir(t, other)
	sweepTreeDirsIn(base, self, alive, hclog.NewNullLogger())
	for _, n := range gone {
		if _, err := os.Lstat(filepath.Join(base, n)); !os.IsNotExist(err) {
			t.Errorf("%s of a dead supervisor: %v, want it gone", n, err)
		}
	}
	for _, n := range append(kept, link) {
		if _, err := os.Lstat(filepath.Join(base, n)); err != nil {
			t.Errorf("%s: %v, want it kept", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(other, "sub", "f")); err != nil {
		t.Errorf("the symlink's target lost its file: %v", err)
	}
	ents, _ := os.ReadDir(base)
	if len(ents) != len(kept)+1 {
		t.Errorf("%d entries left, want %d (no renamed leftovers)", len(ents), len(kept)+1)
	}
}

// TestSweepTreeDirsTakesOwnPidsFirst: the directories named after this
// process's pid are left from a dead process that had it; they are gone
// before sweepTreeDirs returns, so no guestproc takes them over.
func TestSweepTreeDirsTakesOwnPidsFirst(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dirs := treeDirs(os.Getpid())
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err == nil {
			mkTreeDir(t, d)
		}
	}
	wait := sweepTreeDirs(hclog.NewNullLogger())
	for _, d := range dirs {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it gone", d, err)
		}
	}
	wait()
}

// TestSupervisorAliveByControlSocket: a pid no process has is a live
// supervisor still when its control socket answers (another pid namespace
// sharing the directories), and a dead one when the socket is stale.
func TestSupervisorAliveByControlSocket(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir, err := RuntimeDir()
	if err != nil {
		t.Fatal(err)
	}
	if !supervisorAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	pid := deadPid(t)
	if supervisorAlive(pid) {
		t.Fatalf("pid %d: alive without a process or a socket", pid)
	}
	ln, err := net.Listen("unix", controlPath(dir, pid))
	if err != nil {
		t.Fatal(err)
	}
	if !supervisorAlive(pid) {
		t.Error("dead although its control socket answers")
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the socket file stays, refusing: a SIGKILLed supervisor's
	if supervisorAlive(pid) {
		t.Error("alive with a stale control socket")
	}
}
