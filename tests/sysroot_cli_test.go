package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestFilesystemFlags checks --env, --clear-env, --workdir, --sysroot and
// --bind as the CLI sees them: what the guest gets, and exit status 2 for
// bad values.
func TestFilesystemFlags(t *testing.T) {
	bin := elfuse.Require(t)
	if _, err := os.Stat(busybox); err != nil {
		t.Skipf("busybox-static not installed (run tests/setup.sh): %v", err)
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		flags  []string
		args   []string
		stdout string
		status int
	}{
		{"env_set_and_clear", []string{"--clear-env", "--env", "X=1", "--env", "Y=two words"}, bb("env"), "X=1\nY=two words\n", 0},
		{"env_replaces", []string{"--env", "HOME=/elsewhere"}, bb("sh", "-c", "echo $HOME"), "/elsewhere\n", 0},
		{"workdir_host", []string{"--workdir", dir}, bb("pwd"), dir + "\n", 0},
		{"workdir_missing", []string{"--workdir", dir + "/missing"}, bb("pwd"), "", 127},
		{"sysroot_missing", []string{"--sysroot", dir + "/missing"}, bb("true"), "", 2},
		{"sysroot_not_dir", []string{"--sysroot", busybox}, bb("true"), "", 2},
		{"bind_relative_guest", []string{"--bind", dir + ":rel"}, bb("true"), "", 2},
		{"bind_missing_host", []string{"--bind", dir + "/missing:/x"}, bb("true"), "", 2},
		{"bind_without_sysroot", []string{"--bind", sub + ":/mnt/elfuse-test-bind"}, bb("sh", "-c", "cd /mnt/elfuse-test-bind && pwd -P && cd - >/dev/null && pwd"), "/mnt/elfuse-test-bind\n" + dir + "\n", 0},
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			for _, c := range cases {
				res, err := testutil.RunElfuse(bin, backend, c.flags, testutil.Cmd{Args: c.args, Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != c.status || string(res.Stdout) != c.stdout {
					t.Errorf("%s: %v; want status %d, stdout %q", c.name, res, c.status, c.stdout)
				}
			}
		})
	}
}

// TestSysrootProgramPaths checks how the program is found and shown under
// --sysroot: PATH lookup in the root, /proc/self/exe without the root's
// prefix, relative paths from --workdir.
func TestSysrootProgramPaths(t *testing.T) {
	bin := elfuse.Require(t)
	root := busyboxRoot(t)
	os.Symlink("busybox", filepath.Join(root, "bin", "readlink"))
	cases := []struct {
		name   string
		flags  []string
		args   []string
		stdout string
	}{
		{"path_lookup", nil, []string{"readlink", "/proc/self/exe"}, "/bin/busybox\n"},
		{"absolute", nil, []string{"/bin/busybox", "readlink", "/proc/self/exe"}, "/bin/busybox\n"},
		{"relative_to_workdir", []string{"--workdir", "/bin"}, []string{"./busybox", "readlink", "/proc/self/exe"}, "/bin/busybox\n"},
		{"getcwd", []string{"--workdir", "/usr/share/doc/.."}, []string{"/bin/busybox", "pwd", "-P"}, "/usr/share\n"},
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			for _, c := range cases {
				flags := append([]string{"--sysroot", root, "--env", "PATH=/bin"}, c.flags...)
				res, err := testutil.RunElfuse(bin, backend, flags, testutil.Cmd{Args: c.args, Dir: "/"})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != 0 || string(res.Stdout) != c.stdout {
					t.Errorf("%s: %v; want stdout %q", c.name, res, c.stdout)
				}
				if strings.Contains(string(res.Stdout), root) {
					t.Errorf("%s: the host path of the root leaked: %q", c.name, res.Stdout)
				}
			}
		})
	}
}
