package tests

// Processes across the supervisor's tree: fork, vfork, wait, exit codes,
// signals between processes, process groups, and the guarantee that the
// tree leaves no host process behind.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elfuse/elfuse/tests/testutil"
)

// processCoreSource is the guest program of these tests (one mode per
// argv[1]); it lives here so the test is one file.
const processCoreSource = `#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, int st) {
	if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st)) printf("%s: killed by %d\n", what, WTERMSIG(st));
	else printf("%s: status %#x\n", what, st);
}

extern char **environ;
static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

int main(int argc, char **argv) {
	const char *m = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(m, "exit_codes")) {
		pid_t kids[4];
		for (int i = 0; i < 4; i++) {
			kids[i] = fork();
			if (kids[i] == 0) _exit(i * 7);
		}
		for (int i = 3; i >= 0; i--) {
			int st;
			pid_t p = waitpid(kids[i], &st, 0);
			printf("child %d same=%d ", i, p == kids[i]);
			show("", st);
		}
		int st;
		printf("more: %d errno=%d\n", (int)wait(&st), errno);
	} else if (!strcmp(m, "killed")) {
		pid_t p = fork();
		if (p == 0) { for (;;) pause(); }
		kill(p, SIGTERM);
		int st;
		waitpid(p, &st, 0);
		show("term", st);
		p = fork();
		if (p == 0) { raise(SIGKILL); _exit(1); }
		waitpid(p, &st, 0);
		show("self-kill", st);
		p = fork();
		if (p == 0) { *(volatile int *)0 = 1; _exit(1); }
		waitpid(p, &st, 0);
		printf("segv: sig=%d\n", WTERMSIG(st));
	} else if (!strcmp(m, "wnohang")) {
		int st;
		printf("no children: %d errno=%d\n", (int)waitpid(-1, &st, WNOHANG), errno);
		int fds[2];
		pipe(fds);
		pid_t p = fork();
		if (p == 0) { char c; read(fds[0], &c, 1); _exit(9); }
		printf("running: %d\n", (int)waitpid(p, &st, WNOHANG));
		write(fds[1], "x", 1);
		waitpid(p, &st, 0);
		show("after", st);
		printf("other pid: %d errno=%d\n", (int)waitpid(p + 1000, &st, 0), errno);
	} else if (!strcmp(m, "memory")) {
		int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int *heap = malloc(sizeof(int));
		*shared = 1; *priv = 1; *heap = 1;
		pid_t p = fork();
		if (p == 0) { *shared = 2; *priv = 2; *heap = 2; _exit(*priv + *heap); }
		int st;
		waitpid(p, &st, 0);
		printf("child saw %d; shared=%d private=%d heap=%d\n", WEXITSTATUS(st), *shared, *priv, *heap);
		p = fork();
		if (p == 0) { _exit(*shared * 10 + *priv); }
		*priv = 5;
		waitpid(p, &st, 0);
		printf("snapshot: %d\n", WEXITSTATUS(st));
	} else if (!strcmp(m, "vfork")) {
		volatile int x = 1;
		pid_t p = vfork();
		if (p == 0) { x = 42; _exit(3); }
		int st;
		waitpid(p, &st, 0);
		printf("vfork: x=%d ", x);
		show("child", st);
	} else if (!strcmp(m, "pgrp")) {
		pid_t me = getpid();
		printf("pgid==own group: %d\n", getpgid(0) == getpgrp());
		int fds[2];
		pipe(fds);
		pid_t a = fork();
		if (a == 0) { char c; read(fds[0], &c, 1); for (;;) pause(); }
		pid_t b = fork();
		if (b == 0) { char c; read(fds[0], &c, 1); for (;;) pause(); }
		printf("setpgid a: %d\n", setpgid(a, a));
		printf("setpgid b: %d\n", setpgid(b, a));
		printf("b in a's group: %d\n", getpgid(b) == a);
		printf("setsid in group leader's? %d\n", getsid(0) == getsid(a));
		printf("killpg: %d\n", killpg(a, SIGTERM));
		int st, n = 0;
		while (waitpid(-a, &st, 0) > 0) { n++; show("member", st); }
		printf("reaped %d, errno=%d, me=%d\n", n, errno, getpid() == me);
		printf("kill missing group: %d errno=%d\n", killpg(a, SIGTERM), errno);
	} else if (!strcmp(m, "signal_parent")) {
		signal(SIGUSR1, on_usr1);
		sigset_t set, old;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, &old);
		pid_t parent = getpid();
		pid_t p = fork();
		if (p == 0) { kill(parent, SIGUSR1); _exit(0); }
		while (!got) sigsuspend(&old);
		printf("got %d from child\n", got);
		int st;
		waitpid(p, &st, 0);
		show("child", st);
		printf("getppid in child matches: ");
		p = fork();
		if (p == 0) _exit(getppid() == parent);
		waitpid(p, &st, 0);
		printf("%d\n", WEXITSTATUS(st));
	} else if (!strcmp(m, "eintr")) {
		struct sigaction sa = {0};
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		pid_t parent = getpid();
		int fds[2];
		pipe(fds);
		pid_t p = fork();
		if (p == 0) { usleep(100000); kill(parent, SIGUSR1); char c; read(fds[0], &c, 1); _exit(4); }
		int st;
		pid_t r = waitpid(p, &st, 0);
		printf("wait interrupted: %d errno=%d got=%d\n", (int)r, errno, got);
		write(fds[1], "x", 1);
		waitpid(p, &st, 0);
		show("child", st);
	} else if (!strcmp(m, "sigchld_ign")) {
		signal(SIGCHLD, SIG_IGN);
		pid_t p = fork();
		if (p == 0) _exit(1);
		int st;
		pid_t r = waitpid(p, &st, 0);
		printf("ignored SIGCHLD: %d errno=%d\n", (int)r, errno);
	} else if (!strcmp(m, "rusage")) {
		pid_t p = fork();
		if (p == 0) { volatile unsigned long x = 0; for (unsigned long i = 0; i < 300000000UL; i++) x += i; _exit(0); }
		int st; struct rusage ru;
		wait4(p, &st, 0, &ru);
		printf("child used cpu: %d\n", ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec > 10000);
	} else if (!strcmp(m, "subreaper")) {
		pid_t mid = fork();
		if (mid == 0) {
			prctl(PR_SET_CHILD_SUBREAPER, 1);
			pid_t me = getpid();
			if (fork() == 0) {
				pid_t first = getpid();
				if (fork() == 0) {
					while (getppid() == first) usleep(1000);
					printf("orphan's parent is the subreaper: %d\n", getppid() == me);
					_exit(0);
				}
				_exit(0);
			}
			int st, n = 0;
			while (wait(&st) > 0) n++;
			printf("subreaper reaped %d\n", n);
			_exit(0);
		}
		waitpid(mid, NULL, 0);
	} else if (!strcmp(m, "stopcont")) {
		pid_t p = fork();
		if (p == 0) { for (;;) pause(); }
		int st;
		kill(p, SIGSTOP);
		pid_t r = waitpid(p, &st, WUNTRACED);
		printf("stopped: %d sig=%d\n", r == p && WIFSTOPPED(st), WSTOPSIG(st));
		kill(p, SIGCONT);
		r = waitpid(p, &st, WCONTINUED);
		printf("continued: %d\n", r == p && WIFCONTINUED(st));
		kill(p, SIGSTOP);
		waitpid(p, &st, WUNTRACED);
		kill(p, SIGKILL);
		r = waitpid(p, &st, 0);
		printf("killed while stopped: %d sig=%d\n", r == p && WIFSIGNALED(st), WTERMSIG(st));
	} else if (!strcmp(m, "posix_spawn")) {
		char *args[] = {"echo", "spawned", NULL};
		pid_t p;
		int st;
		for (int i = 0; i < 3; i++) {
			int err = posix_spawn(&p, argv[2], NULL, NULL, args, environ);
			waitpid(p, &st, 0);
			printf("spawn %d: err=%d ", i, err);
			show("", st);
		}
		char *bad[] = {"nope", NULL};
		printf("missing program: %d\n", posix_spawn(&p, "/nonexistent/prog", NULL, NULL, bad, environ));
	} else if (!strcmp(m, "orphans")) {
		/* Children and a grandchild that never end: the tree must
		   not outlive pid 1. */
		for (int i = 0; i < 3; i++) {
			if (fork() == 0) {
				if (i == 0 && fork() == 0) for (;;) pause();
				for (;;) pause();
			}
		}
		printf("started\n");
		if (argc > 2) for (;;) pause();
	} else if (!strcmp(m, "bomb")) {
		int n = 0;
		for (;;) {
			pid_t p = fork();
			if (p == 0) for (;;) pause();
			if (p < 0) break;
			n++;
		}
		printf("fork failed after %d: %s\n", n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
	} else {
		return 2;
	}
	return 0;
}
`

var (
	procBinOnce sync.Map // compiler name → *procBin
)

type procBin struct {
	once sync.Once
	path string
	err  error
}

// buildProcessCore compiles processCoreSource with comp once per run.
func buildProcessCore(t *testing.T, comp testutil.Compiler) string {
	t.Helper()
	if _, why := testutil.LookCommand(comp.Argv[0]); why != "" {
		t.Skip(why)
	}
	v, _ := procBinOnce.LoadOrStore(comp.Name, &procBin{})
	b := v.(*procBin)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "elfuse-proc-")
		if err != nil {
			b.err = err
			return
		}
		src := filepath.Join(dir, "process_core.c")
		if err := os.WriteFile(src, []byte(processCoreSource), 0o644); err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, comp.Name+"-process_core")
		argv := append(append([]string{}, comp.Argv...), "-o", b.path, src)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%s: %v\n%s", testutil.Quote(argv), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func TestProcessCoreMatchesNative(t *testing.T) {
	modes := []string{
		"exit_codes",    // fork, waitpid in any order, exit codes, ECHILD
		"killed",        // children killed by SIGTERM, SIGKILL, SIGSEGV
		"wnohang",       // WNOHANG, ECHILD for a pid that is no child
		"memory",        // MAP_SHARED stays shared, private memory is a snapshot
		"vfork",         // vfork child writes the parent's memory
		"pgrp",          // setpgid, getpgid, killpg, wait(-pgid)
		"signal_parent", // kill from child to parent, getppid
		"eintr",         // a signal interrupts a blocked wait4 (EINTR)
		"sigchld_ign",   // SIGCHLD ignored: children are reaped for us
		"rusage",        // wait4's rusage carries the child's CPU time
		"subreaper",     // orphans go to the nearest PR_SET_CHILD_SUBREAPER
		"stopcont",      // SIGSTOP/SIGCONT reported by WUNTRACED/WCONTINUED
	}
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			bin := buildProcessCore(t, comp)
			for _, m := range modes {
				t.Run(m, func(t *testing.T) {
					testutil.RunCase(t, elfuse, testutil.Case{Name: m, Args: []string{bin, m}})
				})
			}
		})
	}
}

func TestBusyboxShellProcessCore(t *testing.T) {
	bb, why := testutil.LookCommand("busybox")
	if why != "" {
		t.Skip(why)
	}
	scripts := map[string]string{
		"subshells":  `echo a; (echo b); x=$(echo c); echo $x; (exit 3); echo $?`,
		"background": `(echo bg; exit 4) & wait $!; echo st=$?; wait; echo done`,
		"pipeline":   `echo hello | (read x; echo got $x)`,
		"kill": `(trap 'echo term; exit 7' TERM; : > ready; while :; do :; done) & p=$!; ` +
			`while [ ! -e ready ]; do :; done; kill $p; wait $p; echo st=$?; rm ready`,
		"kill_self":   `echo before; kill -9 $$; echo after`,
		"nested_wait": `for i in 1 2 3; do (exit $i) & done; wait; echo all`,
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			testutil.RunCase(t, elfuse, testutil.Case{Name: name, Args: []string{bb, "sh", "-c", script}})
		})
	}
}

// requireGuestExec skips when the kernel under test has no execve yet
// (probed with the ptrace backend, which every host has).
func requireGuestExec(t *testing.T, bb string) {
	t.Helper()
	bin := elfuse.Require(t)
	probe, err := testutil.RunElfuse(bin, "ptrace", nil, testutil.Cmd{Args: []string{bb, "sh", "-c", "exec " + bb + " true"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(probe.Stderr), "Function not implemented") {
		t.Skip("execve is not implemented in this kernel yet")
	}
}

// TestBusyboxShellRunsPrograms runs external programs from a shell: fork
// or vfork, then execve.
func TestBusyboxShellRunsPrograms(t *testing.T) {
	bb, why := testutil.LookCommand("busybox")
	if why != "" {
		t.Skip(why)
	}
	requireGuestExec(t, bb)
	scripts := map[string]string{
		"brief":                  `echo a; (echo b); x=$(echo c); echo $x; ` + bb + ` true & wait; echo done`,
		"pipeline_of_programs":   `for i in 1 2 3 4 5; do ` + bb + ` echo n$i; done | ` + bb + ` wc -l`,
		"exit_codes_of_programs": bb + ` false; echo $?; ` + bb + ` ls /nonexistent 2>/dev/null; echo $?`,
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			testutil.RunCase(t, elfuse, testutil.Case{Name: name, Args: []string{bb, "sh", "-c", script}})
		})
	}
}

// TestPosixSpawn runs glibc's and musl's posix_spawn (clone with
// CLONE_VM|CLONE_VFORK on its own stack, then execve), including a
// missing program whose error comes back through the shared memory.
func TestPosixSpawn(t *testing.T) {
	bb, why := testutil.LookCommand("busybox")
	if why != "" {
		t.Skip(why)
	}
	requireGuestExec(t, bb)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			bin := buildProcessCore(t, comp)
			testutil.RunCase(t, elfuse, testutil.Case{Name: "posix_spawn", Args: []string{bin, "posix_spawn", bb}})
		})
	}
}

// hostGroup lists the live host processes of process group pgid.
func hostGroup(pgid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, fmt.Sprintf("%d %s", pid, s[:i+1]))
		}
	}
	return out
}

// waitGroupGone polls until no host process of group pgid is left.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := hostGroup(pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, l := range left {
				syscall.Kill(-pgid, syscall.SIGKILL)
				_ = l
			}
			t.Fatalf("host processes left behind:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startInGroup starts elfuse in a process group of its own, so that every
// host process it creates (guestprocs, ptrace stubs) can be found.
func startInGroup(t *testing.T, bin, backend string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--backend=" + backend}, args...)...)
	cmd.Env = testutil.Env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func TestNoHostProcessOutlivesTheTree(t *testing.T) {
	comp := testutil.Compilers[0]
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			prog := buildProcessCore(t, comp)
			t.Run("pid 1 exits", func(t *testing.T) {
				cmd, out := startInGroup(t, bin, b, prog, "orphans")
				err := cmd.Wait()
				if err != nil || !strings.Contains(out.String(), "started") {
					t.Fatalf("elfuse: %v\n%s", err, out)
				}
				waitGroupGone(t, cmd.Process.Pid)
			})
			t.Run("supervisor SIGKILLed", func(t *testing.T) {
				cmd, out := startInGroup(t, bin, b, prog, "orphans", "stay")
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(out.String(), "started") && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				// Give the children time to be guestprocs of their own.
				for len(hostGroup(cmd.Process.Pid)) < 5 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if n := len(hostGroup(cmd.Process.Pid)); n < 5 {
					t.Fatalf("only %d host processes in the tree", n)
				}
				cmd.Process.Kill()
				cmd.Wait()
				waitGroupGone(t, cmd.Process.Pid)
			})
			t.Run("fork bomb under max-procs", func(t *testing.T) {
				cmd, out := startInGroup(t, bin, b, "--max-procs=8", prog, "bomb")
				err := cmd.Wait()
				if err != nil || !strings.Contains(out.String(), "fork failed after 7: EAGAIN") {
					t.Fatalf("elfuse: %v\n%s", err, out)
				}
				waitGroupGone(t, cmd.Process.Pid)
			})
		})
	}
}
