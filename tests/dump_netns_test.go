package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestDumpFindsAnUnprivilegedNetNoneTree: an unprivileged --net=none
// elfuse re-runs itself in a user and network namespace; `elfuse dump PID`
// with the pid its user started (and knows) still finds the tree.
func TestDumpFindsAnUnprivilegedNetNoneTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to become another user with setpriv")
	}
	if _, why := testutil.LookCommand("setpriv"); why != "" {
		t.Skip(why)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	asNobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	if _, why := nativeNetns(t, asNobody); why != "" {
		t.Skip(why)
	}
	dir := sharedDir(t)
	bin := copyExec(t, elfuse.Require(t), dir)
	rd := dir + "/run"
	if err := os.Mkdir(rd, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(rd, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	env := append(testutil.Env(), "XDG_RUNTIME_DIR="+rd)
	// setpriv and env exec: the pid started here is the outer elfuse's.
	args := append(append([]string{}, asNobody...), bin, "--backend=ptrace", "--net=none", "/bin/busybox", "sleep", "30")
	sup := exec.Command(args[0], args[1:]...)
	sup.Env, sup.Dir = env, dir
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sup.Process.Signal(syscall.SIGKILL)
		sup.Wait()
	})
	dumpArgs := append(append([]string{}, asNobody...), bin, "dump", "--json", strconv.Itoa(sup.Process.Pid))
	deadline := time.Now().Add(20 * time.Second)
	for {
		cmd := exec.Command(dumpArgs[0], dumpArgs[1:]...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil {
			var procs []dumpProc
			if json.Unmarshal(out, &procs) == nil && len(procs) == 1 && procs[0].Pid == 1 && procs[0].State == "in syscall" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("elfuse dump %d never showed the sleeping pid 1: %v\n%s", sup.Process.Pid, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
