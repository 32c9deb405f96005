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

// TestBindDeepTree: below a bind, a working directory more than PATH_MAX
// deep still takes relative names (mkdir, cd, create, read, getcwd's
// climb), and find and rm -rf walk the tree, as natively in the same
// directory: Linux limits the path a call names, not the depth of the
// directory it starts from.
func TestBindDeepTree(t *testing.T) {
	bin := elfuse.Require(t)
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	sh := func(s string) []string { return []string{bashStatic, "--norc", "--noprofile", "-c", s} }
	// find and rm walk with fts: openat(dirfd, "..", O_NOFOLLOW) to climb.
	find, why := testutil.LookCommand("find")
	if why != "" {
		t.Skip(why)
	}
	rm, why := testutil.LookCommand("rm")
	if why != "" {
		t.Skip(why)
	}
	script := func(top string) string {
		return `cd ` + top + ` || exit 9; n=$(printf 'd%.0s' $(seq 72)); i=0
while [ $i -lt 60 ]; do mkdir $n && cd $n || break; i=$((i+1)); done
echo "depth $i"; echo deep > f && cat f; ls; cd ../..; ls $n; echo "pwd $(pwd | wc -c)"
cd ` + top + ` && ` + find + ` . -type d | wc -l && ` + rm + ` -rf $n && echo removed; ls | wc -l`
	}
	native := t.TempDir()
	want, err := testutil.RunNative(testutil.Cmd{Args: sh(script(native))})
	if err != nil {
		t.Fatal(err)
	}
	if want.Status != 0 || !strings.Contains(string(want.Stdout), "depth 60") {
		t.Fatalf("native run: %v", want)
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			dir := t.TempDir()
			res, err := testutil.RunElfuse(bin, backend, []string{"--bind", dir + ":" + native},
				testutil.Cmd{Args: sh(script(native)), Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != want.Status || string(res.Stdout) != string(want.Stdout) {
				t.Errorf("elfuse %v\nnative %v", res, want)
			}
		})
	}
}
