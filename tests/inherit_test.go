package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// inheritRun runs argv with the descriptor set a caller would leave: stdin
// from in, fd 3 reading in as well, fd 4 writing out; or, with closeStdout,
// stdout closed. It returns stdout (when open), the exit status and what
// fd 4 received.
func inheritRun(t *testing.T, argv []string, dir string, closeStdout bool) (string, int, string) {
	t.Helper()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte("from fd 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.Remove(out)
	r, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The caller is a shell: it is the one that can leave descriptors
	// open or closed across exec (Go's os/exec always opens 0-2).
	script := `exec "$@" 3<&5 4>&6 5<&- 6>&-`
	if closeStdout {
		script = `exec "$@" 3<&5 4>&6 5<&- 6>&- >&-`
	}
	cmd := exec.Command("/bin/busybox", append([]string{"sh", "-c", script, "sh"}, argv...)...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Dir, cmd.Env = &stdout, os.Stderr, dir, testutil.Env()
	cmd.ExtraFiles = []*os.File{nil, nil, r, w} // fds 5 and 6
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	return stdout.String(), status, string(got)
}

// A program gets the descriptors its caller left open, at the same numbers,
// and sees closed the standard descriptors its caller closed.
func TestInheritedDescriptorsMatchNative(t *testing.T) {
	bin := elfuse.Require(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	cases := []struct {
		name        string
		script      string
		closeStdout bool
	}{
		{"fds_3_and_4", `cat <&3; echo to-fd-4 >&4; ls /proc/self/fd/3 /proc/self/fd/4 >/dev/null && echo both-open; ls /proc/self/fd/5 2>/dev/null || echo fd-5-closed`, false},
		{"child_inherits_too", `/bin/busybox sh -c 'cat <&3; echo child >&4'; echo parent >&4`, false},
		{"stdout_closed", `echo lost; echo status=$? >&4`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			argv := []string{"/bin/busybox", "sh", "-c", c.script}
			wantOut, wantStatus, wantFile := inheritRun(t, argv, t.TempDir(), c.closeStdout)
			for _, backend := range testutil.Backends() {
				t.Run(backend, func(t *testing.T) {
					testutil.RequireBackend(t, backend)
					eargv := append([]string{bin, "--backend=" + backend, "--"}, argv...)
					gotOut, gotStatus, gotFile := inheritRun(t, eargv, t.TempDir(), c.closeStdout)
					if gotOut != wantOut || gotStatus != wantStatus || gotFile != wantFile {
						t.Errorf("elfuse differs from native:\nnative: stdout %q status %d fd 4 %q\nelfuse: stdout %q status %d fd 4 %q",
							wantOut, wantStatus, wantFile, gotOut, gotStatus, gotFile)
					}
				})
			}
		})
	}
}
