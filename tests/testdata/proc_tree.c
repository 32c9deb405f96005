// proc_tree: the process tree: spawning, exec failures, reparenting,
// process groups, wait selectors and stop/continue reporting.
//   proc_tree MODE
// MODE is one of: spawn, execfail, orphan, pgrp, wnohang, stopcont.
#include "proc_common.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

extern char **environ;

// spawn: posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK); musl: the same
// with a pipe) with file actions and attributes.
static int mode_spawn(void) {
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "spawn.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *argv1[] = {"busybox", "echo", "written by the spawned child", NULL};
	pid_t p;
	int err = posix_spawn(&p, "/bin/busybox", &fa, NULL, argv1, environ);
	if (err)
		fail("posix_spawn: %s", errname(err));
	posix_spawn_file_actions_destroy(&fa);
	reap(p, "spawn with stdout to a file");
	char buf[128] = {0};
	int fd = open("spawn.out", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof buf - 1) < 0)
		fail("read spawn.out");
	close(fd);
	printf("spawn.out: %s", buf);

	// posix_spawnp searches PATH; exit status comes through.
	char *argv2[] = {"busybox", "sh", "-c", "echo spawnp child; exit 5", NULL};
	fflush(stdout);
	err = posix_spawnp(&p, "busybox", NULL, NULL, argv2, environ);
	if (err)
		fail("posix_spawnp: %s", errname(err));
	reap(p, "spawnp child");

	// Spawning a missing program reports ENOENT to the caller.
	char *argv3[] = {"missing", NULL};
	err = posix_spawn(&p, "/nonexistent/missing", NULL, NULL, argv3, environ);
	printf("spawn of a missing program: %s\n", errname(err));
	if (err == 0)
		reap(p, "missing program child");

	// A new process group for the child, and a signal mask it inherits.
	int in[2];
	if (pipe(in) < 0)
		fail("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&at, 0);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	posix_spawnattr_setsigmask(&at, &mask);
	char *argv4[] = {"busybox", "sh", "-c", "read x; grep SigBlk /proc/self/status; echo got $x", NULL};
	fflush(stdout);
	err = posix_spawn(&p, "/bin/busybox", &fa, &at, argv4, environ);
	if (err)
		fail("posix_spawn setpgroup: %s", errname(err));
	close(in[0]);
	printf("spawned child leads its own group: %d\n", getpgid(p) == p);
	printf("parent's group unchanged: %d\n", getpgrp() != p);
	fflush(stdout);
	if (write(in[1], "line\n", 5) != 5)
		fail("write");
	close(in[1]);
	reap(p, "setpgroup child");
	return 0;
}

// tryexec forks a child that execs path and reports errno through its exit
// status.
static void tryexec(const char *label, const char *path) {
	pid_t c = xfork();
	if (c == 0) {
		char *argv[] = {(char *)path, "arg", NULL};
		execv(path, argv);
		int e = errno;
		printf("%s: execv failed with %s, child continues\n", label, errname(e));
		fflush(stdout);
		_exit(e);
	}
	int st;
	if (waitpid(c, &st, 0) != c)
		fail("waitpid");
	printf("%s: parent saw %s\n", label, WIFEXITED(st) ? errname(WEXITSTATUS(st)) : describe(st));
}

// execfail: exec failures leave the child intact to report them.
static int mode_execfail(void) {
	int fd = open("notexec", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, "#!/bin/busybox sh\necho x\n", 25);
	close(fd);
	fd = open("garbage", O_CREAT | O_WRONLY | O_TRUNC, 0755);
	write(fd, "this is not a program\n", 22);
	close(fd);
	fd = open("badinterp", O_CREAT | O_WRONLY | O_TRUNC, 0755);
	write(fd, "#!/nonexistent/interpreter\n", 27);
	close(fd);
	mkdir("adir", 0755);
	tryexec("missing file", "./does-not-exist");
	tryexec("missing directory", "/nonexistent/dir/prog");
	tryexec("not executable", "./notexec");
	tryexec("directory", "./adir");
	tryexec("text without #!", "./garbage");
	tryexec("missing #! interpreter", "./badinterp");
	tryexec("path through a file", "./garbage/x");
	// And one that works, for contrast.
	pid_t c = xfork();
	if (c == 0) {
		char *argv[] = {"busybox", "sh", "-c", "exit 33", NULL};
		execv("/bin/busybox", argv);
		_exit(127);
	}
	reap(c, "working exec");
	return 0;
}

// orphan: a grandchild whose parent exits is reparented to the nearest
// subreaper, which can then wait for it.
static int mode_orphan(void) {
	// This process is the subreaper natively; under elfuse it is also pid
	// 1 of the tree, so either rule gives the same answer.
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		fail("PR_SET_CHILD_SUBREAPER");
	int on = -1;
	prctl(PR_GET_CHILD_SUBREAPER, &on);
	printf("subreaper flag: %d\n", on);
	pid_t top = getpid();
	int rep[2];
	if (pipe(rep) < 0)
		fail("pipe");
	pid_t mid = xfork();
	if (mid == 0) {
		pid_t was = getpid();
		pid_t g = xfork();
		if (g == 0) {
			// Wait (at most 5 s) for the middle process to exit.
			for (int i = 0; i < 500 && getppid() == was; i++)
				msleep(10);
			printf("grandchild: parent changed %d, now the subreaper %d\n",
			       getppid() != was, getppid() == top);
			fflush(stdout);
			_exit(21);
		}
		if (write(rep[1], &g, sizeof g) != sizeof g)
			fail("write");
		_exit(20);
	}
	pid_t g;
	if (read(rep[0], &g, sizeof g) != sizeof g)
		fail("read");
	reap(mid, "middle child");
	// The grandchild is now ours to wait for.
	int st;
	pid_t r = waitpid(-1, &st, 0);
	printf("waitpid(-1) returned the grandchild: %d, %s\n", r == g, describe(st));
	printf("then: %s\n", waitpid(-1, &st, 0) < 0 ? errname(errno) : "a child");

	// Nested: a subreaper below us catches orphans first.
	fflush(stdout);
	pid_t sub = xfork();
	if (sub == 0) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		pid_t me = getpid();
		pid_t a = xfork();
		if (a == 0) {
			pid_t gg = xfork();
			if (gg == 0) {
				for (int i = 0; i < 500 && getppid() != me; i++)
					msleep(10);
				printf("nested orphan adopted by the inner subreaper: %d\n", getppid() == me);
				fflush(stdout);
				_exit(0);
			}
			_exit(0);
		}
		int st2;
		int n = 0;
		while (waitpid(-1, &st2, 0) > 0)
			n++;
		printf("inner subreaper reaped %d\n", n);
		fflush(stdout);
		_exit(0);
	}
	reap(sub, "inner subreaper");
	return 0;
}

// pgrp: process groups, sessions and killpg.
static int mode_pgrp(void) {
	// Orphaned group members come back to us (pid 1 under elfuse).
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		fail("PR_SET_CHILD_SUBREAPER");
	int ready[2], info[2];
	if (pipe(ready) < 0 || pipe(info) < 0)
		fail("pipe");
	pid_t leader = xfork();
	if (leader == 0) {
		if (setpgid(0, 0) < 0)
			fail("setpgid");
		pid_t me = getpid();
		pid_t member = xfork();
		if (member == 0) {
			int same = getpgrp() == me;
			writebyte(info[1], same);
			writebyte(ready[1], 'm');
			for (;;)
				pause();
		}
		writebyte(ready[1], 'l');
		for (;;)
			pause();
	}
	pid_t top = getpid();
	pid_t outsider = xfork();
	if (outsider == 0) {
		writebyte(ready[1], 'o');
		pause_forever(top);
	}
	for (int i = 0; i < 3; i++)
		readbyte(ready[0]);
	printf("member inherited the leader's group: %d\n", readbyte(info[0]));
	printf("getpgid(leader) is the leader: %d\n", getpgid(leader) == leader);
	printf("outsider stays in our group: %d\n", getpgid(outsider) == getpgrp());
	printf("kill(-group, 0): %s\n", kill(-leader, 0) < 0 ? errname(errno) : "OK");
	// SIGUSR1 to the group: the leader dies of it; the member too, and the
	// outsider is untouched.
	if (killpg(leader, SIGUSR1) < 0)
		fail("killpg");
	reap(leader, "group leader");
	int st;
	pid_t r = waitpid(-1, &st, 0);
	printf("orphaned member (reaped by us): %s, is the outsider %d\n", describe(st), r == outsider);
	msleep(50);
	printf("outsider after killpg: %s\n", waitpid(outsider, &st, WNOHANG) == 0 ? "running" : "gone");
	kill(outsider, SIGKILL);
	reap(outsider, "outsider");
	printf("kill(-group, 0) once empty: %s\n", kill(-leader, 0) < 0 ? errname(errno) : "OK");
	printf("killpg(nonexistent): %s\n", killpg(999999, SIGTERM) < 0 ? errname(errno) : "OK");
	printf("setpgid(nonexistent, 0): %s\n", setpgid(999999, 0) < 0 ? errname(errno) : "OK");

	// Sessions.
	pid_t ourgroup = getpgrp();
	pid_t s = xfork();
	if (s == 0) {
		pid_t me = getpid();
		pid_t sid = setsid();
		printf("setsid returns own pid: %d\n", sid == me);
		printf("getsid(0) == pid: %d, getpgrp() == pid: %d\n", getsid(0) == me, getpgrp() == me);
		printf("setsid again: %s\n", setsid() < 0 ? errname(errno) : "OK");
		printf("setpgid as a session leader: %s\n", setpgid(0, 0) < 0 ? errname(errno) : "OK");
		pid_t k = xfork();
		if (k == 0) {
			printf("child of a session leader: same session %d, same group %d\n",
			       getsid(0) == me, getpgrp() == me);
			printf("moving into a group of another session: %s\n",
			       setpgid(0, ourgroup) < 0 ? errname(errno) : "OK");
			fflush(stdout);
			_exit(0);
		}
		reap(k, "session member");
		fflush(stdout);
		_exit(0);
	}
	reap(s, "session leader");
	printf("parent's session differs from the child's: kept %d\n", getsid(0) != s);
	return 0;
}

// wnohang: WNOHANG with and without children, ECHILD, waitid.
static int mode_wnohang(void) {
	int st;
	printf("no children, WNOHANG: %s\n", waitpid(-1, &st, WNOHANG) < 0 ? errname(errno) : "a child");
	printf("no children, blocking: %s\n", waitpid(-1, &st, 0) < 0 ? errname(errno) : "a child");
	printf("wait for our parent: %s\n", waitpid(getppid(), &st, WNOHANG) < 0 ? errname(errno) : "a child");
	siginfo_t si;
	printf("waitid(P_ALL) with none: %s\n", waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0 ? errname(errno) : "a child");
	int go[2];
	if (pipe(go) < 0)
		fail("pipe");
	pid_t c = xfork();
	if (c == 0) {
		close(go[1]);
		readbyte(go[0]);
		_exit(12);
	}
	close(go[0]);
	printf("running child, WNOHANG: %d\n", (int)waitpid(-1, &st, WNOHANG));
	memset(&si, 0, sizeof si);
	int r = waitid(P_PID, c, &si, WEXITED | WNOHANG);
	printf("running child, waitid WNOHANG: %d si_pid %d\n", r, si.si_pid);
	close(go[1]); // the child's read returns 0: it exits
	// Poll until it is a zombie (at most 5 s).
	pid_t got = 0;
	for (int i = 0; i < 500 && got == 0; i++) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, c, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			fail("waitid WNOWAIT");
		got = si.si_pid;
		if (!got)
			msleep(10);
	}
	printf("waitid WNOWAIT: pid matches %d, code %s, status %d\n", got == c,
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status);
	// WNOWAIT left it waitable.
	r = waitpid(-1, &st, WNOHANG);
	printf("then waitpid(-1, WNOHANG): pid matches %d, %s\n", r == c, describe(st));
	printf("afterwards: %s\n", waitpid(-1, &st, WNOHANG) < 0 ? errname(errno) : "a child");

	// Selection by pid and by group: only the named child is reaped.
	pid_t a = xfork();
	if (a == 0)
		_exit(1);
	pid_t b = xfork();
	if (b == 0) {
		setpgid(0, 0);
		_exit(2);
	}
	setpgid(b, b); // either order wins the race: both set the same
	reap(b, "child b by pid");
	printf("waitpid(-b) after b was reaped: %s\n", waitpid(-b, &st, 0) < 0 ? errname(errno) : "a child");
	r = waitpid(0, &st, 0);
	printf("waitpid(0) (our group): a %d, %s\n", r == a, describe(st));
	// rusage of a child comes back through wait4.
	c = xfork();
	if (c == 0) {
		volatile unsigned long x = 0;
		for (unsigned long i = 0; i < 30000000UL; i++)
			x += i;
		_exit(0);
	}
	struct rusage ru;
	r = wait4(c, &st, 0, &ru);
	long us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
	printf("wait4 rusage of a busy child is nonzero: %d\n", r == c && us > 0);
	return 0;
}

// stopcont: SIGSTOP/SIGTSTP/SIGCONT reported by WUNTRACED/WCONTINUED and
// by waitid.
static int mode_stopcont(void) {
	int ready[2];
	if (pipe(ready) < 0)
		fail("pipe");
	pid_t parent = getpid();
	pid_t c = xfork();
	if (c == 0) {
		// A group of its own whose parent (us) is in another group of
		// the same session: not orphaned, so SIGTSTP is not discarded
		// (Linux drops it for orphaned groups, e.g. under a detached
		// test runner).
		setpgid(0, 0);
		writebyte(ready[1], 1);
		pause_forever(parent);
	}
	setpgid(c, c);
	readbyte(ready[0]);
	int st;
	kill(c, SIGSTOP);
	pid_t r = waitpid(c, &st, WUNTRACED);
	printf("after SIGSTOP: %d %s\n", r == c, describe(st));
	printf("stop reported once: %d\n", (int)waitpid(c, &st, WUNTRACED | WNOHANG));
	kill(c, SIGCONT);
	r = waitpid(c, &st, WCONTINUED);
	printf("after SIGCONT: %d %s\n", r == c, describe(st));
	kill(c, SIGTSTP);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	waitid(P_PID, c, &si, WSTOPPED);
	printf("waitid after SIGTSTP: code %s status %d\n", si.si_code == CLD_STOPPED ? "CLD_STOPPED" : "other", si.si_status);
	// Without WUNTRACED a stop is not reported.
	printf("plain WNOHANG while stopped: %d\n", (int)waitpid(c, &st, WNOHANG));
	kill(c, SIGCONT);
	memset(&si, 0, sizeof si);
	waitid(P_PID, c, &si, WCONTINUED);
	printf("waitid after SIGCONT: code %s status %d\n", si.si_code == CLD_CONTINUED ? "CLD_CONTINUED" : "other", si.si_status);
	// A stopped process still dies of SIGKILL.
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGKILL);
	reap(c, "stopped child, SIGKILL");
	// SIGTERM to a stopped process takes effect once it is continued.
	c = xfork();
	if (c == 0) {
		// A group of its own whose parent (us) is in another group of
		// the same session: not orphaned, so SIGTSTP is not discarded
		// (Linux drops it for orphaned groups, e.g. under a detached
		// test runner).
		setpgid(0, 0);
		writebyte(ready[1], 1);
		pause_forever(parent);
	}
	setpgid(c, c);
	readbyte(ready[0]);
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	kill(c, SIGTERM);
	msleep(50);
	printf("stopped child after SIGTERM: %d\n", (int)waitpid(c, &st, WNOHANG));
	kill(c, SIGCONT);
	reap(c, "stopped child, SIGTERM then SIGCONT");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	watchdog();
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "spawn"))
		return mode_spawn();
	if (!strcmp(m, "execfail"))
		return mode_execfail();
	if (!strcmp(m, "orphan"))
		return mode_orphan();
	if (!strcmp(m, "pgrp"))
		return mode_pgrp();
	if (!strcmp(m, "wnohang"))
		return mode_wnohang();
	if (!strcmp(m, "stopcont"))
		return mode_stopcont();
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}
