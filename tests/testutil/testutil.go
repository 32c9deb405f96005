// Package testutil is the harness of the end-to-end suite: it builds the
// elfuse binary once, runs a command natively and under elfuse with the same
// environment, stdin and a freshly prepared directory, and compares what the
// two runs produced (stdout, exit status, files).
//
// Native execution is the oracle: host and guest are the same platform, so a
// correct elfuse is indistinguishable from running the program directly.
package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// ErrNoElfuse means the module has no cmd/elfuse package yet, so there is
// nothing to run the guest side with.
var ErrNoElfuse = errors.New("no cmd/elfuse package in this tree")

// ModuleRoot returns the directory that holds the module's go.mod, found by
// walking up from the current directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// BuildElfuse compiles ./cmd/elfuse into dir and returns the binary's path.
// It returns ErrNoElfuse (wrapped) when the package does not exist yet and
// the compiler's output otherwise. ELFUSE_BIN, when set, names an already
// built binary to test instead.
func BuildElfuse(dir string) (string, error) {
	if bin := os.Getenv("ELFUSE_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "elfuse")); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(root, "cmd", "elfuse"), ErrNoElfuse)
	}
	out := filepath.Join(dir, "elfuse")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/elfuse")
	cmd.Dir = root
	// Static, as README builds it: a cgo build makes every supervisor and
	// guestproc start load ld.so and libc (~6 ms of each start here).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/elfuse: %v\n%s", err, b)
	}
	return out, nil
}

var (
	kvmOnce   sync.Once
	kvmOK     bool
	kvmReason string
)

// KVMAvailable reports whether /dev/kvm exists and can be opened read-write,
// and if not, why.
func KVMAvailable() (bool, string) {
	kvmOnce.Do(func() {
		fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			kvmReason = fmt.Sprintf("no /dev/kvm: open /dev/kvm: %v", err)
			return
		}
		unix.Close(fd)
		kvmOK = true
	})
	return kvmOK, kvmReason
}

// RequireKVM skips the test, saying why, unless /dev/kvm is usable. It is the
// only place a test decides that it needs KVM.
func RequireKVM(t testing.TB) {
	t.Helper()
	if ok, why := KVMAvailable(); !ok {
		t.Skip(why)
	}
}

// Backends lists the elfuse backends the suite runs every case on: ptrace
// always (it works on any Linux host), kvm when /dev/kvm is usable.
func Backends() []string {
	b := []string{"ptrace"}
	if ok, _ := KVMAvailable(); ok {
		b = append(b, "kvm")
	}
	return b
}

// RequireBackend skips a subtest for a backend this host cannot run.
func RequireBackend(t testing.TB, backend string) {
	t.Helper()
	if backend == "kvm" {
		RequireKVM(t)
	}
}

// RequireRoot skips the test unless it runs as root, saying why it needs
// to (CI runs as root).
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: " + why)
	}
}

// Env is the fixed environment both runs of a case get, so that nothing the
// test runner inherited leaks into the comparison. HOME is a constant that
// does not exist: the run directories' names differ, so it cannot be one.
// ELFUSE_FORK_CHECK=1 has elfuse check every fork child's incremental copy
// of its parent's memory (kernel/mm_track.go); native runs ignore it.
func Env() []string {
	return []string{
		"ELFUSE_FORK_CHECK=1",
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=/nonexistent/elfuse-test-home",
		"LANG=C",
		"LC_ALL=C",
		"TZ=UTC",
		"USER=root",
		"TERM=dumb",
	}
}

// NoCoreDumps sets RLIMIT_CORE to 0 for this process and so for every child:
// a guest killed by SIGSEGV must not leave a core file in a compared
// directory.
func NoCoreDumps() error {
	return unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0})
}

// LookCommand returns the path of an executable or a skip reason.
func LookCommand(name string) (string, string) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Sprintf("%s not installed (run tests/setup.sh): %v", name, err)
	}
	return p, ""
}

// Quote renders argv for messages.
func Quote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$|&;<>()*?") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
