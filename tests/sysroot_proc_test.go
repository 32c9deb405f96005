package tests

import (
	"bytes"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestSysrootProcPidExeMatchesChroot reads /proc/PID/exe of the shell and
// of its parent from children, across exec: the paths must be the
// guest-visible ones, as natively in the chroot.
func TestSysrootProcPidExeMatchesChroot(t *testing.T) {
	args := []string{"bash", "-c", `readlink -v /proc/$$/exe; sh -c 'readlink -v /proc/$PPID/exe; readlink -v /proc/$$/exe; exec bash -c "readlink -v /proc/\$\$/exe"'; echo done`}
	runProcChrootCase(t, args, func(native testutil.Result) bool {
		return native.Status == 0 && len(bytes.Fields(native.Stdout)) == 5 // four paths and done
	})
}

// TestSysrootProcOfBackgroundChild reads a background child's /proc
// under the sysroot's bash and coreutils, against the chroot with a real
// /proc; the shell's pid is written as SHELL, since pids differ.
func TestSysrootProcOfBackgroundChild(t *testing.T) {
	script := `sleep 5 & p=$!
` + waitSleeping + `readlink /proc/$p/exe; tr '\0' ' ' < /proc/$p/cmdline; echo
grep -E '^(Name|State|PPid)' /proc/$p/status | sed "s/\b$$\b/SHELL/"
cd /proc/$p && pwd | sed "s/\b$p\b/CHILD/" && readlink cwd root && ls -d fd task
cd /proc/self && /bin/pwd | sed "s/\b$$\b/SHELL/"
kill $p; wait $p; echo status $?`
	args := []string{"/bin/bash", "-c", script}
	runProcChrootCase(t, args, func(native testutil.Result) bool {
		return bytes.Contains(native.Stdout, []byte("sleep 5"))
	})
}

// TestSysrootCommIsTheNameRun checks that a process is named after the file
// it was asked to run, not a symlink's target (python3 is a link to
// python3.11), for pid 1 and after exec, as natively in the chroot.
func TestSysrootCommIsTheNameRun(t *testing.T) {
	args := []string{"python3", "-c", `import os, subprocess
print(open('/proc/self/comm').read().strip())
print(subprocess.run(['python3', '-c', 'print(open("/proc/self/comm").read().strip())'], capture_output=True, text=True).stdout.strip())
print(subprocess.run(['sh', '-c', 'cat /proc/$$/comm'], capture_output=True, text=True).stdout.strip())`}
	runProcChrootCase(t, args, func(native testutil.Result) bool {
		return native.Status == 0 && len(bytes.Fields(native.Stdout)) == 3 // three names
	})
}

// runProcChrootCase runs args natively in a chroot of the Debian sysroot
// with /proc mounted, checks the native run with sane (so a broken fixture
// cannot make the comparison vacuous), then runs args under elfuse with
// --sysroot on every backend: stdout and status must match.
func runProcChrootCase(t *testing.T, args []string, sane func(testutil.Result) bool) {
	t.Helper()
	root := debianSysroot(t)
	chroot := requireChroot(t)
	bin := elfuse.Require(t)
	mountProc(t, root)
	want, err := testutil.RunRaw(append([]string{chroot, root}, args...), testutil.Cmd{Dir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !sane(want) {
		t.Fatalf("native run is not what the case expects: %v", want)
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			got, err := testutil.RunElfuse(bin, backend, []string{"--sysroot", root}, testutil.Cmd{Args: args, Dir: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Stdout, want.Stdout) || got.Status != want.Status {
				t.Errorf("native %v\nelfuse %v\n%s", want, got, testutil.LineDiff(string(want.Stdout), string(got.Stdout)))
			}
		})
	}
}
