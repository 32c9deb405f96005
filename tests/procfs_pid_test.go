package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// /proc/<pid> of other guest processes, the /proc listing, synthetic
// directories as cwd, and the tree's private host directories.
//
// The oracle for other pids is the program run natively in a fresh pid
// namespace with its own /proc (unshare --pid --fork --mount-proc): the
// first process is pid 1 and the next ones are numbered as elfuse numbers
// them, so pids, parents and listings compare as they are.

// unshareArgs is the native wrapper that gives a run its own pid
// namespace and /proc.
var unshareArgs = []string{"--pid", "--fork", "--mount-proc"}

// requireUnshare returns unshare(1)'s path, or skips when this host
// cannot make a pid namespace for the native side.
func requireUnshare(t *testing.T) string {
	t.Helper()
	path, why := testutil.LookCommand("unshare")
	if why != "" {
		t.Skipf("no unshare for the native pid namespace: %s", why)
	}
	if out, err := exec.Command(path, append(unshareArgs, "true")...).CombinedOutput(); err != nil {
		t.Skipf("unshare cannot make a pid namespace here: %v: %s", err, out)
	}
	return path
}

// runNamespaceCase is testutil.RunCase with the native runs in a pid
// namespace of their own.
func runNamespaceCase(t *testing.T, c testutil.Case) {
	t.Helper()
	unshare := requireUnshare(t)
	native := func(cmd testutil.Cmd) (testutil.Result, error) {
		cmd.Args = append(append([]string{unshare}, unshareArgs...), cmd.Args...)
		return testutil.RunNative(cmd)
	}
	base := t.TempDir()
	want, err := testutil.Execute(c, filepath.Join(base, "native"), native)
	if err != nil {
		t.Fatalf("native run: %v", err)
	}
	again, err := testutil.Execute(c, filepath.Join(base, "native2"), native)
	if err != nil {
		t.Fatalf("second native run: %v", err)
	}
	if d := testutil.Compare(c, want, again); len(d) > 0 {
		t.Fatalf("case is not deterministic natively:\n%s", strings.Join(d, "\n"))
	}
	if len(want.Stdout) == 0 {
		t.Fatalf("case prints nothing natively: %v", want)
	}
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			got, err := testutil.Execute(c, filepath.Join(base, b), func(cmd testutil.Cmd) (testutil.Result, error) {
				return testutil.RunElfuse(bin, b, c.Flags, cmd)
			})
			if err != nil {
				t.Fatalf("elfuse run: %v", err)
			}
			if d := testutil.Compare(c, want, got); len(d) > 0 {
				t.Errorf("elfuse differs from native:\n%s\nelfuse stderr:\n%s", strings.Join(d, "\n"), got.Stderr)
			}
		})
	}
}

// waitSleeping is shell text that waits until process $p runs sleep and
// sleeps in it (bounded: it goes on after about 10 s either way, and the
// comparison then shows what was seen).
const waitSleeping = `until read c < /proc/$p/comm && [ "$c" = sleep ]; do :; done
for i in $(seq 100); do grep -q '^State:.S' /proc/$p/status && break; sleep 0.1; done
`

// procPidCases read other processes' /proc under busybox sh.
func procPidCases() []testutil.Case {
	sh := func(name, script string) testutil.Case {
		return testutil.Case{Name: name, Args: bb("sh", "-c", script)}
	}
	return []testutil.Case{
		sh("background_child_files", `sleep 5 & p=$!
`+waitSleeping+`readlink /proc/$p/exe
tr '\0' ' ' < /proc/$p/cmdline; echo
grep -E '^(Name|State|Tgid|Pid|PPid|NSpid|Threads)' /proc/$p/status
cut -d' ' -f1-4 /proc/$p/stat
ls /proc/$p/fd | grep -x '[012]'; ls /proc/$p/task
readlink /proc/$p/fd/0; readlink /proc/$p/root
kill $p; wait`),
		sh("parent_cmdline_and_status", `sh -c 'tr "\0" " " < /proc/$PPID/cmdline; echo; grep -E "^(Name|Pid)" /proc/$PPID/status; readlink /proc/$PPID/exe'`),
		// The glob is expanded by the shell before it forks ls (in a
		// pipeline, the forked side would expand it while the next
		// command may or may not be forked yet).
		sh("listing_shows_every_live_process", `sleep 5 & sleep 5 & ls /proc > list
grep '^[0-9]' list; ls -d /proc/[0-9]* > dirs; cat dirs; wc -l < dirs; kill %1 %2; wait`),
		sh("busybox_ps", `sleep 5 & p=$!
`+waitSleeping+`busybox ps -o pid,ppid,comm,args; kill $p; wait`),
		sh("zombie_keeps_stat_and_status", `sh -c 'sleep 0.1 & exec sleep 3' & p=$!
for i in $(seq 100); do
  for d in /proc/[0-9]*; do
    s=$(cat $d/stat 2>/dev/null)
    case "$s" in *") Z $p "*) z=${d#/proc/};; esac
  done
  [ -n "$z" ] && break; sleep 0.1
done
[ -n "$z" ] && grep -q "^PPid:.$p$" /proc/$z/status && echo zombie child found
grep -E "^(Name|State|PPid)" /proc/$z/status
cut -d' ' -f2-4 /proc/$z/stat
wc -c < /proc/$z/cmdline
readlink /proc/$z/exe || echo no exe
ls /proc/$z/fd | wc -l
kill $p; wait`),
		sh("stopped_process_shows_T", `sleep 5 & p=$!
`+waitSleeping+`kill -STOP $p
for i in $(seq 100); do grep -q '^State:.T' /proc/$p/status && break; sleep 0.1; done
grep -E "^(State|PPid)" /proc/$p/status
tr '\0' ' ' < /proc/$p/cmdline; echo
kill -CONT $p; kill $p; wait`),
		sh("cd_into_proc", `cd /proc/self && busybox pwd
cd /proc/$$ && cat comm && ls -d fd task && readlink exe
cd fd && busybox pwd && [ -L 1 ] && echo 1 is a link
cd /proc && busybox pwd && ls -d self $$ && cat self/comm
cd /dev/fd && busybox pwd
cd / && busybox pwd`),
		sh("descriptors_on_proc_dirs", `exec 5</proc/self; exec 6</proc; exec 8</proc/self/fd; exec 9</proc/self/status
for n in 5 6 8 9; do readlink /proc/self/fd/$n; done
ls -l /proc/$$/fd | grep -o '[5689] -> .*'`),
	}
}

// fchdirProcScript enters /proc directories through descriptors with
// fchdir (python's os.fchdir), as chdir by path does in cd_into_proc;
// a fork child inherits the cwd.
const fchdirProcScript = `
import errno, os
home = os.open(".", os.O_RDONLY)
def enter(path, flags=os.O_RDONLY):
    fd = os.open(path, flags)
    try:
        os.fchdir(fd)
    finally:
        os.close(fd)
enter("/proc/self")
print("cwd is own pid dir:", os.getcwd() == "/proc/%d" % os.getpid())
print(open("stat").read().split()[0] == str(os.getpid()), sorted(n for n in os.listdir(".") if n in ("fd", "task", "status")))
enter("task", os.O_RDONLY | os.O_DIRECTORY)
print("task:", os.getcwd() == "/proc/%d/task" % os.getpid(), os.listdir(".") == [str(os.getpid())])
enter("/proc/self/fd", os.O_PATH)
print("fd:", os.getcwd() == "/proc/%d/fd" % os.getpid(), os.path.islink("1"))
enter("/proc")
print("proc:", os.getcwd(), os.path.isdir("self"))
enter("/proc/self")
pid = os.fork()
if pid == 0:
    print("child cwd is parent's pid dir:", os.getcwd() == "/proc/%d" % os.getppid(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
try:
    enter("/proc/self/status")
except OSError as e:
    print("status:", errno.errorcode[e.errno])
os.fchdir(home)
print("back home:", not os.getcwd().startswith("/proc"))
`

// TestProcFSFchdir runs fchdirProcScript in a pid namespace and under
// elfuse.
func TestProcFSFchdir(t *testing.T) {
	runPythonNamespaceCase(t, "fchdir_into_proc", fchdirProcScript)
}

// runPythonNamespaceCase runs a host python3 script natively in a pid
// namespace and under elfuse (runNamespaceCase).
func runPythonNamespaceCase(t *testing.T, name, script string) {
	t.Helper()
	if _, why := testutil.LookCommand(hostPython); why != "" {
		t.Skipf("no python3: %s", why)
	}
	runNamespaceCase(t, testutil.Case{Name: name, Args: []string{hostPython, "-I", "-c", script}})
}

// TestProcFSOtherPidsMatchNamespace compares reads of other processes'
// /proc, the /proc listing, ps and cd into /proc with a native run in a
// pid namespace.
func TestProcFSOtherPidsMatchNamespace(t *testing.T) {
	requireBusybox(t)
	for _, c := range procPidCases() {
		t.Run(c.Name, func(t *testing.T) { runNamespaceCase(t, c) })
	}
}

// TestProcFSProcpsTools runs procps' ps, pgrep and pkill (from the host)
// over a small tree; columns are squeezed because ps sizes them from the
// host's pid range. (pid 1's STAT is left out: elfuse makes it lead the
// session the run leads, where natively unshare(1) leads it.)
// ps's own row is left out: its pid depends on how many times the wait
// loop forked, which varies between runs, natively too.
func TestProcFSProcpsTools(t *testing.T) {
	for _, tool := range []string{"ps", "pgrep", "pkill"} {
		if _, why := testutil.LookCommand(tool); why != "" {
			t.Skipf("no %s on this host: %s", tool, why)
		}
	}
	bash, why := testutil.LookCommand("bash")
	if why != "" {
		t.Skipf("no bash: %s", why)
	}
	script := `sleep 5 & p=$!
` + waitSleeping + `ps -o pid,ppid,comm,args > ps.out; tr -s ' ' < ps.out | awk '$3 != "ps"'; ps -o stat= -p $p
pgrep -l sleep; pgrep -f 'sleep 5'; pgrep -P 1
pkill sleep; wait $p; echo status $?`
	runNamespaceCase(t, testutil.Case{Args: []string{bash, "-c", script}})
}

// TestProcFSTreeDirsRemoved checks that the host directories behind
// /dev/shm (in $TMPDIR or the host's /dev/shm) and behind a synthetic cwd
// go away with the tree.
func TestProcFSTreeDirsRemoved(t *testing.T) {
	requireBusybox(t)
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			tmp, runtime := t.TempDir(), t.TempDir()
			env := append(testutil.Env(), "TMPDIR="+tmp, "XDG_RUNTIME_DIR="+runtime)
			before := len(shmDirsOfDeadTrees(t))
			script := `echo shm > /dev/shm/f && cat /dev/shm/f; cd /proc/self/fd && busybox pwd | grep -c /proc/; ` +
				`sh -c 'cat /dev/shm/f; ls /dev/shm'`
			r, err := testutil.RunElfuse(bin, b, nil, testutil.Cmd{Args: bb("sh", "-c", script), Dir: t.TempDir(), Env: env})
			if err != nil {
				t.Fatal(err)
			}
			if want := "shm\n1\nshm\nf\n"; string(r.Stdout) != want || r.Status != 0 {
				t.Fatalf("got %v, want stdout %q", r, want)
			}
			ents, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				t.Errorf("left behind in TMPDIR: %s", e.Name())
			}
			// The guest's /dev/shm lives in the host's when that is
			// a tmpfs (kernel/devfs.go shmDirs).
			if left := shmDirsOfDeadTrees(t); len(left) > before {
				t.Errorf("left behind in /dev/shm: %v", left)
			}
		})
	}
}
