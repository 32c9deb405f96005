package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// The differential sysroot cases: the same argv natively under chroot(1)
// into a root and under `elfuse --sysroot` of that root must agree on
// stdout and exit status (and, for the writable busybox root, on the tree
// left behind).

// debianSysroot returns the root tests/mksysroot.sh builds, or skips.
func debianSysroot(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ELFUSE_SYSROOT")
	if dir == "" {
		dir = "/var/cache/elfuse-sysroot/bookworm"
	}
	if _, err := os.Stat(filepath.Join(dir, ".elfuse-sysroot-ok")); err != nil {
		t.Skipf("no Debian sysroot at %s (build it with tests/mksysroot.sh): %v", dir, err)
	}
	return dir
}

// requireChroot skips unless native chroot(2) is allowed.
func requireChroot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("native chroot needs root")
	}
	p, why := testutil.LookCommand("chroot")
	if why != "" {
		t.Skip(why)
	}
	return p
}

type chrootCase struct {
	name string
	args []string
	// flags are elfuse flags; native is then the native argv after the
	// root (default args).
	flags  []string
	native []string
	stdin  string
}

// runChrootCases runs every case natively and under every backend.
func runChrootCases(t *testing.T, root func(t *testing.T) string, cases []chrootCase, compareTree bool) {
	chroot := requireChroot(t)
	bin := elfuse.Require(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nroot := root(t)
			nargs := c.native
			if nargs == nil {
				nargs = c.args
			}
			want, err := testutil.RunRaw(append([]string{chroot, nroot}, nargs...), testutil.Cmd{Dir: "/", Stdin: []byte(c.stdin)})
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Stdout) == 0 && want.Status == 0 && !compareTree {
				t.Fatalf("native run shows nothing to compare: %v", want)
			}
			for _, backend := range testutil.Backends() {
				t.Run(backend, func(t *testing.T) {
					testutil.RequireBackend(t, backend)
					groot := root(t)
					flags := append([]string{"--sysroot", groot}, c.flags...)
					got, err := testutil.RunElfuse(bin, backend, flags, testutil.Cmd{Args: c.args, Dir: "/", Stdin: []byte(c.stdin)})
					if err != nil {
						t.Fatal(err)
					}
					if got.Status != want.Status || !bytes.Equal(got.Stdout, want.Stdout) {
						t.Errorf("native %v\nelfuse %v\n%s", want, got, testutil.LineDiff(string(want.Stdout), string(got.Stdout)))
					}
					if !compareTree {
						return
					}
					wt, err := testutil.Snapshot(nroot)
					if err != nil {
						t.Fatal(err)
					}
					gt, err := testutil.Snapshot(groot)
					if err != nil {
						t.Fatal(err)
					}
					for _, d := range testutil.DiffTrees(wt, gt) {
						t.Error(d)
					}
				})
			}
		})
	}
}

// TestSysrootMatchesChrootDebian runs dynamic Debian programs from the
// mksysroot root (none of them forks).
func TestSysrootMatchesChrootDebian(t *testing.T) {
	root := debianSysroot(t)
	cases := []chrootCase{
		{name: "ls_etc_apt", args: []string{"/bin/ls", "-la", "--time-style=+", "/etc/apt"}},
		{name: "ls_by_path_lookup", args: []string{"ls", "-1", "/usr/lib/../share/../lib/x86_64-linux-gnu/gconv/../../../bin/../../etc/apt"}},
		{name: "cat_os_release", args: []string{"cat", "/etc/os-release", "/etc/debian_version"}},
		{name: "stat_symlinks", args: []string{"stat", "-c", "%n %F %N", "/bin", "/lib64", "/usr/bin/ls", "/etc/alternatives/cc"}},
		{name: "readlink_f", args: []string{"readlink", "-f", "/bin/cc", "/lib64/ld-linux-x86-64.so.2", "/usr/bin/../../../../etc/../bin"}},
		{name: "find_etc", args: []string{"find", "/etc/apt", "/etc/default", "-maxdepth", "2", "-printf", "%p %y %m\n"}},
		{name: "find_missing_status", args: []string{"find", "/no/such/dir"}},
		{name: "bash_builtins", args: []string{"bash", "-c", `cd /usr/share/..; pwd; cd ../../..; pwd; cd /etc/alternatives; pwd -P; echo $(< /etc/debian_version); for f in /etc/a*; do echo "$f"; done`}},
		{name: "bash_read_loop", args: []string{"bash", "-c", `n=0; while read -r l; do n=$((n+1)); done < /etc/passwd; echo $n; read -r first < /etc/passwd; echo "$first"`}},
		{name: "workdir", args: []string{"ls", "-1", "..", "."}, flags: []string{"--workdir", "/usr/share/zoneinfo/Europe"},
			native: []string{"env", "--chdir=/usr/share/zoneinfo/Europe", "ls", "-1", "..", "."}},
		{name: "python_os", args: []string{"python3", "-c", "import os; print(os.getcwd()); print(sorted(os.listdir('/etc/apt'))); print(os.path.realpath('/bin/sh')); os.chdir('/usr/lib'); print(os.getcwd(), os.path.islink('/lib64'))"}},
		{name: "missing_program", args: []string{"no-such-program"}},
		// AF_UNIX names are paths in the root: bind creates them there and
		// every call that returns a name gives back the guest's, never a
		// host path (absolute and relative binds).
		{name: "python_unix_socket_names", args: []string{"python3", "-c", `
import os, socket
os.chdir('/tmp')
tag = str(os.getpid())
for name in ['/tmp/elfuse-sk-%s-a' % tag, 'elfuse-sk-%s-b' % tag]:
    s = socket.socket(socket.AF_UNIX); s.bind(name); s.listen()
    c = socket.socket(socket.AF_UNIX); c.connect(name)
    a, peer = s.accept()
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(name + '.dg')
    e = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); e.bind(name + '.src'); e.sendto(b'x', name + '.dg')
    data, src = d.recvfrom(8)
    print([n.replace(tag, 'PID') for n in (s.getsockname(), c.getpeername(), a.getsockname(), src)], repr(peer), os.path.exists(name))
    for n in (name, name + '.dg', name + '.src'):
        os.unlink(n)
try:
    socket.socket(socket.AF_UNIX).bind('/no/such/dir/sock')
except OSError as err:
    print('bind in a missing dir:', err.errno)
`}},
	}
	runChrootCases(t, func(*testing.T) string { return root }, cases, false)
}

// busyboxRoot is a small writable root: busybox-static plus a few files
// and links.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Skipf("busybox-static not installed (run tests/setup.sh): %v", err)
	}
	root := t.TempDir()
	files := []testutil.File{
		{Path: "bin", Dir: true},
		{Path: "etc/motd", Content: "welcome\n"},
		{Path: "etc/link-abs", Link: "/etc/motd"},
		{Path: "etc/link-rel", Link: "../../../etc/motd"},
		{Path: "etc/link-dir", Link: "/usr/share"},
		{Path: "usr/share/doc/readme", Content: "docs\n"},
		{Path: "tmp", Dir: true, Mode: 0o777},
	}
	if err := testutil.Prepare(root, files); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSysrootMatchesChrootBusybox runs busybox applets in a fresh writable
// root natively and under elfuse and compares output and the tree after.
func TestSysrootMatchesChrootBusybox(t *testing.T) {
	if _, err := exec.LookPath("chroot"); err != nil {
		t.Skip(err)
	}
	b := func(args ...string) []string { return append([]string{"/bin/busybox"}, args...) }
	cases := []chrootCase{
		{name: "ls_root", args: b("ls", "-la", "-e", "/", "/etc", "/..")},
		{name: "cat_links", args: b("cat", "/etc/link-abs", "/etc/link-rel", "/etc/link-dir/doc/readme", "/../../etc/motd")},
		{name: "find_all", args: b("find", "/", "-xdev")},
		{name: "readlink_f", args: b("readlink", "-f", "/etc/link-rel", "/etc/link-dir/doc")},
		{name: "mkdir_parents", args: b("mkdir", "-p", "/tmp/a/b", "/etc/link-dir/new/dir")},
		{name: "mv_across", args: b("mv", "/etc/motd", "/usr/share/doc/readme", "/tmp")},
		{name: "mv_symlink", args: b("mv", "/etc/link-abs", "/tmp/moved-link")},
		{name: "rm_recursive", args: b("rm", "-rv", "/usr")},
		{name: "rm_through_dotdot", args: b("rm", "-v", "/../../etc/link-rel")},
		{name: "ln_symbolic_hard", args: b("ln", "-sv", "../etc/motd", "/tmp/l")},
		{name: "ln_hard", args: b("ln", "-v", "/etc/link-abs", "/tmp/hard")},
		{name: "cp_recursive", args: b("cp", "-av", "/etc", "/tmp/etc-copy")},
		{name: "touch_create", args: b("touch", "-d", "2001-02-03 04:05:06", "/tmp/t", "/etc/link-dir/doc/t2")},
		{name: "chmod_through_link", args: b("chmod", "-v", "600", "/etc/link-abs", "/etc/link-dir/doc/readme")},
		{name: "stat_formats", args: b("stat", "-c", "%n %a %s %F", "/etc/motd", "/etc/link-abs", "/etc/link-dir/", "/tmp")},
		{name: "du_root", args: b("du", "-a", "/etc", "/usr")},
		{name: "pwd_workdir", args: b("pwd"), flags: []string{"--workdir", "/etc/link-dir/doc"},
			native: []string{"/bin/busybox", "sh", "-c", "cd -P /etc/link-dir/doc && pwd"}},
		{name: "ls_workdir_relative", args: b("ls", "-la", "../../..", "../doc", "readme"), flags: []string{"--workdir", "/usr/share/doc"},
			native: []string{"/bin/busybox", "sh", "-c", "cd /usr/share/doc && exec /bin/busybox ls -la ../../.. ../doc readme"}},
	}
	runChrootCases(t, busyboxRoot, cases, true)
}
