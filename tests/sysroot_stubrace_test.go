package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestSysrootThreadsCannotRewriteInjectedCalls runs stub_race.c under
// --sysroot: while one thread maps files again and again (each mapping
// makes the ptrace backend inject an openat and an mmap into the stub the
// guest runs in), another stores the host path of a secret outside the root
// where the stub keeps those calls' paths. The store must fault, as it does
// natively (nothing is mapped there), and every mapping must show its own
// file: the output equals the native run's. A writer that stores instead
// into the stub's writable results may upset the process's own mappings,
// never bring the secret in.
func TestSysrootThreadsCannotRewriteInjectedCalls(t *testing.T) {
	bin := elfuse.Require(t)
	prog := cc.Build(t, testutil.Compilers[0], "stub_race.c")
	nativeDir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	native, err := testutil.RunNative(testutil.Cmd{Args: []string{prog, "strings", secret, nativeDir}})
	if err != nil {
		t.Fatal(err)
	}
	if native.Status != 0 || !strings.Contains(string(native.Stdout), "writer: refused") {
		t.Fatalf("native run: %v", native)
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			l := newEscapeLayout(t, prog)
			if err := os.Mkdir(filepath.Join(l.root, "maps"), 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := testutil.RunElfuse(bin, backend, l.flags(),
				testutil.Cmd{Args: []string{"/escape", "strings", l.secret, "/maps"}, Dir: l.root})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 0 || string(res.Stdout) != string(native.Stdout) {
				t.Errorf("strings: got %v\nwant (native) %q", res, native.Stdout)
			}
			res, err = testutil.RunElfuse(bin, backend, l.flags(),
				testutil.Cmd{Args: []string{"/escape", "results", l.secret, "/maps"}, Dir: l.root})
			if err != nil {
				t.Fatal(err)
			}
			if want := "mappings: 480, secret 0\n"; res.Status != 0 || string(res.Stdout) != want {
				t.Errorf("results: got %v\nwant %q", res, want)
			}
		})
	}
}
