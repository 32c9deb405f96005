package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// --net=none: testdata/netns.c runs natively in a fresh network namespace
// (unshare --net, lo brought up with ip, as elfuse does with netlink) and
// under elfuse --net=none; both must see only lo, reach a loopback
// listener from a fork child and from an exec'd child (separate
// guestprocs: one namespace per tree), and get ENETUNREACH elsewhere.

var netnsModes = []string{"ifaces", "loopback", "loopback_exec", "unreach"}

// nativeNetns returns the argv prefix that runs a program natively in a
// fresh network namespace with lo up, for the current user, or why there
// is none. An unprivileged user gets a user namespace first.
func nativeNetns(t *testing.T, asUser []string) ([]string, string) {
	t.Helper()
	for _, cmd := range []string{"unshare", "ip"} {
		if _, why := testutil.LookCommand(cmd); why != "" {
			return nil, why
		}
	}
	unshare := []string{"unshare", "--net"}
	if os.Geteuid() != 0 || len(asUser) > 0 {
		unshare = []string{"unshare", "--user", "--map-root-user", "--net"}
	}
	prefix := append(append(append([]string{}, asUser...), unshare...),
		"sh", "-c", `ip link set lo up && exec "$0" "$@"`)
	res, err := testutil.RunRaw(append(append([]string{}, prefix...), "/bin/true"), testutil.Cmd{Dir: t.TempDir()})
	if err != nil || res.Status != 0 {
		return nil, "cannot make a network namespace natively here (" + testutil.Quote(prefix) + "): " + res.String()
	}
	return prefix, ""
}

// compareNetns runs prog mode natively under prefix and under elfuse
// --net=none on backend (itself under asUser) and compares stdout and status.
func compareNetns(t *testing.T, bin, backend, prog string, prefix, asUser []string, mode string) {
	t.Helper()
	c := testutil.Cmd{Args: []string{prog, mode}, Dir: t.TempDir()}
	want, err := testutil.RunRaw(append(append([]string{}, prefix...), prog, mode), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Stdout) == 0 {
		t.Fatalf("native run prints nothing: %s", want)
	}
	argv := append(append([]string{}, asUser...), bin, "--backend", backend, "--net=none", "--", prog, mode)
	got, err := testutil.RunRaw(argv, c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != want.Status || string(got.Stdout) != string(want.Stdout) {
		t.Errorf("%s: elfuse differs from native in a network namespace:\n%s\nelfuse stderr:\n%s",
			mode, testutil.LineDiff(string(want.Stdout), string(got.Stdout)), got.Stderr)
	}
}

func TestNetNone(t *testing.T) {
	prefix, why := nativeNetns(t, nil)
	if why != "" {
		t.Skip(why)
	}
	bin := elfuse.Require(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			prog := cc.Build(t, comp, "netns.c")
			for _, b := range testutil.Backends() {
				t.Run(b, func(t *testing.T) {
					testutil.RequireBackend(t, b)
					for _, mode := range netnsModes {
						t.Run(mode, func(t *testing.T) { compareNetns(t, bin, b, prog, prefix, nil, mode) })
					}
				})
			}
		})
	}
}

// TestNetHost: without --net (and with --net=host) the guest sees the
// host's interfaces, as a native run does.
func TestNetHost(t *testing.T) {
	for _, flags := range [][]string{nil, {"--net=host"}} {
		t.Run(strings.Join(append([]string{"flags"}, flags...), "_"), func(t *testing.T) {
			runProgram(t, progCase{name: "netns_host", src: "netns.c", args: []string{"ifaces"}, flags: flags})
		})
	}
}

// sharedDir is a directory every user may read, for runs as nobody.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "elfuse-netns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyExec copies an executable into dir.
func copyExec(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestNetNoneUnprivileged: an unprivileged user (nobody, via setpriv) gets
// the namespace through a user namespace; native runs under unshare --user
// --map-root-user --net.
func TestNetNoneUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to become another user with setpriv")
	}
	if _, why := testutil.LookCommand("setpriv"); why != "" {
		t.Skip(why)
	}
	asNobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	prefix, why := nativeNetns(t, asNobody)
	if why != "" {
		t.Skip(why)
	}
	dir := sharedDir(t)
	bin := copyExec(t, elfuse.Require(t), dir)
	prog := copyExec(t, cc.Build(t, testutil.Compilers[0], "netns.c"), dir)
	// The ptrace backend: it needs no device that nobody may lack
	// (/dev/kvm is usually root's and the kvm group's).
	for _, mode := range netnsModes {
		t.Run(mode, func(t *testing.T) { compareNetns(t, bin, "ptrace", prog, prefix, asNobody, mode) })
	}
}

// TestNetNoneImpossibleFails: where neither a network namespace nor a user
// namespace can be made, --net=none fails before running anything, saying
// why, instead of running the guest on the host's network.
func TestNetNoneImpossibleFails(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to build a user namespace that forbids user namespaces")
	}
	dir := sharedDir(t)
	bin := copyExec(t, elfuse.Require(t), dir)
	prog := copyExec(t, cc.Build(t, testutil.Compilers[0], "netns.c"), dir)
	jail := cc.Build(t, testutil.Compilers[0], "netns_nouserns.c")
	c := testutil.Cmd{Dir: dir}
	// The jail itself works: without --net the program runs there.
	res, err := testutil.RunRaw([]string{jail, bin, "--backend", "ptrace", "--", prog, "ifaces"}, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 0 || !strings.Contains(string(res.Stdout), "if_nameindex: lo") {
		t.Skipf("cannot run elfuse in a user namespace without user namespaces here: %s", res)
	}
	res, err = testutil.RunRaw([]string{jail, bin, "--backend", "ptrace", "--net=none", "--", prog, "ifaces"}, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 125 || len(res.Stdout) != 0 || !strings.Contains(string(res.Stderr), "network namespace") {
		t.Errorf("--net=none where no namespace can be made: want status 125, no output and a message about the network namespace; got %s", res)
	}
}

// TestNetFlagRejectsUnknown: a --net value other than host or none is a
// usage error (status 2) that names the flag, and nothing runs.
func TestNetFlagRejectsUnknown(t *testing.T) {
	bin := elfuse.Require(t)
	for _, v := range []string{"bridge", "None", ""} {
		res, err := testutil.RunRaw([]string{bin, "--net=" + v, "/bin/echo", "ran"}, testutil.Cmd{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 2 || len(res.Stdout) != 0 || !strings.Contains(string(res.Stderr), "--net") {
			t.Errorf("--net=%q: want status 2, no output and a message naming --net; got %s", v, res)
		}
	}
}
