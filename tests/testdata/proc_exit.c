// proc_exit: children that end while their parent waits, checked for what
// Linux guarantees whatever way the exit reaches the parent:
//   proc_exit MODE
//   signalfirst  a signal a child sent its parent before it ended is
//                pending when the parent reaps it
//   group        waits for a process group (-pgid, 0) find the ended
//                child, as waits for a pid or any child do
//   sigchld      a SIGCHLD handler reaping with WNOHANG gets every child,
//                once
//   orphan       a child's own children, orphaned by its exit, are
//                adopted by the subreaper that waits for them
#include "proc_common.h"

static void wait_for(pid_t sel, pid_t want, int code, const char *how, int i) {
	int st;
	pid_t w;
	while ((w = waitpid(sel, &st, 0)) < 0 && errno == EINTR) {
	}
	if (w != want)
		fail("%s %d: waitpid(%d) = %d (%s), want %d", how, i, (int)sel, (int)w, errname(errno), (int)want);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail("%s %d: child %s, want exited %d", how, i, describe(st), code);
}

static int mode_signalfirst(void) {
	sigset_t usr1, none;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	pid_t parent = getpid();
	enum { N = 40 };
	for (int i = 0; i < N; i++) {
		pid_t p = fork();
		if (p < 0)
			fail("fork");
		if (p == 0) {
			if (kill(parent, SIGUSR1) != 0)
				_exit(98);
			_exit(i % 7);
		}
		wait_for(p, p, i % 7, "signalfirst", i);
		sigset_t pend;
		sigpending(&pend);
		if (!sigismember(&pend, SIGUSR1))
			fail("signalfirst %d: the child's SIGUSR1 is not pending once it was reaped", i);
		siginfo_t si;
		struct timespec zero = {0, 0};
		if (sigtimedwait(&usr1, &si, &zero) != SIGUSR1)
			fail("signalfirst %d: sigtimedwait: %s", i, errname(errno));
		if (si.si_pid != p)
			fail("signalfirst %d: SIGUSR1 from %d, want %d", i, (int)si.si_pid, (int)p);
	}
	printf("%d children: each one's SIGUSR1, sent before it ended, was pending when it was reaped\n", N);
	return 0;
}

static int mode_group(void) {
	enum { N = 20 };
	for (int i = 0; i < N; i++) {
		// A child in a group of its own, as a shell's job: both set
		// it, as shells do.
		pid_t p = fork();
		if (p < 0)
			fail("fork");
		if (p == 0) {
			setpgid(0, 0);
			_exit(3);
		}
		setpgid(p, p);
		wait_for(-p, p, 3, "own group", i);
		// A child in the parent's group.
		p = fork();
		if (p < 0)
			fail("fork");
		if (p == 0)
			_exit(4);
		wait_for(0, p, 4, "caller's group", i);
	}
	errno = 0;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		fail("group: a child left after all were reaped (%s)", errname(errno));
	printf("%d children in their own group reaped by waitpid(-pgid), %d in the caller's by waitpid(0)\n", N, N);
	return 0;
}

static volatile sig_atomic_t reaped, twice;
static pid_t pids[64];

static void on_chld(int sig) {
	(void)sig;
	int saved = errno;
	pid_t w;
	while ((w = waitpid(-1, NULL, WNOHANG)) > 0) {
		int found = 0;
		for (int i = 0; i < 64; i++) {
			if (pids[i] == w) {
				pids[i] = 0;
				found = 1;
			}
		}
		if (!found)
			twice = 1;
		reaped++;
	}
	errno = saved;
}

static int mode_sigchld(void) {
	enum { N = 40 };
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	struct sigaction sa = {0};
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (int i = 0; i < N; i++) {
		sigprocmask(SIG_BLOCK, &chld, &old);
		pid_t p = fork();
		if (p < 0)
			fail("fork");
		if (p == 0)
			_exit(0);
		pids[i] = p;
		// Wait for this one in sigsuspend, as a shell without job
		// control does.
		while (pids[i] != 0)
			sigsuspend(&old);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (reaped != N || twice)
		fail("sigchld: %d reaped (want %d), reaped twice: %d", (int)reaped, N, (int)twice);
	errno = 0;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		fail("sigchld: a child left (%s)", errname(errno));
	printf("%d children reaped in the SIGCHLD handler, each once\n", N);
	return 0;
}

static int mode_orphan(void) {
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fail("PR_SET_CHILD_SUBREAPER");
	enum { N = 10 };
	for (int i = 0; i < N; i++) {
		int fds[2];
		if (pipe(fds) != 0)
			fail("pipe");
		pid_t p = fork();
		if (p < 0)
			fail("fork");
		if (p == 0) {
			pid_t g = fork();
			if (g < 0)
				_exit(97);
			if (g == 0) {
				// Ends when this process's parent's parent says.
				close(fds[1]);
				if (readbyte(fds[0]) != 'x')
					_exit(95);
				_exit(6);
			}
			_exit(5);
		}
		close(fds[0]);
		wait_for(p, p, 5, "orphan's parent", i);
		// The grandchild is this process's now: a wait for any child
		// finds it live, not ECHILD.
		pid_t w = waitpid(-1, NULL, WNOHANG);
		if (w != 0)
			fail("orphan %d: waitpid(-1, WNOHANG) = %d (%s), want 0: the orphan was not adopted", i, (int)w,
			     errname(errno));
		writebyte(fds[1], 'x');
		close(fds[1]);
		int st;
		while ((w = waitpid(-1, &st, 0)) < 0 && errno == EINTR) {
		}
		if (w <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 6)
			fail("orphan %d: waitpid(-1) = %d, %s; want the orphan, exited 6", i, (int)w, describe(st));
	}
	printf("%d orphans adopted by the subreaper as their parents ended, and reaped by it\n", N);
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: proc_exit signalfirst|group|sigchld|orphan\n");
		return 2;
	}
	watchdog();
	const char *m = argv[1];
	if (strcmp(m, "signalfirst") == 0)
		return mode_signalfirst();
	if (strcmp(m, "group") == 0)
		return mode_group();
	if (strcmp(m, "sigchld") == 0)
		return mode_sigchld();
	if (strcmp(m, "orphan") == 0)
		return mode_orphan();
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}
