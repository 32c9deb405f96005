package supervisor

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// startPidfd starts a host process and returns it with a pidfd of it.
func startPidfd(t *testing.T, name string, args ...string) (*exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start %s: %v", name, err)
	}
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Skipf("pidfd_open: %v", err)
	}
	return cmd, fd
}

// TestStubSetKeepsLiveStubs: keep drops the pidfds of stubs that ended and
// keeps the others; killAndWait returns once every kept stub is dead.
func TestStubSetKeepsLiveStubs(t *testing.T) {
	gone, goneFd := startPidfd(t, "true")
	gone.Wait()
	live, liveFd := startPidfd(t, "sleep", "60")
	var st stubSet
	st.keep(goneFd)
	st.keep(liveFd)
	if len(st.fds) != 1 || st.fds[0] != liveFd {
		t.Fatalf("kept %v, want only the live stub's %d", st.fds, liveFd)
	}
	// The stub is not the test's child in elfuse (it is the dead
	// guestproc's), but here only the test can reap it: do so meanwhile.
	done := make(chan error, 1)
	go func() { done <- live.Wait() }()
	st.killAndWait()
	if err := <-done; err == nil {
		t.Fatal("sleep 60 ended normally: killAndWait did not kill it")
	}
	if len(st.fds) != 0 {
		t.Fatalf("pidfds left after killAndWait: %v", st.fds)
	}
	if _, err := unix.FcntlInt(uintptr(liveFd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("pidfd %d still open after killAndWait (%v)", liveFd, err)
	}
}
