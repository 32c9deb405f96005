// proc_wait MODE: which zombie a wait reports and what it carries, when a
// parent has several (elfuse may answer such waits in the parent's
// guestproc, from zombies the supervisor pushed to it).
// MODE is one of: order, pgrp, nowait, rusage, clone, ignored, echild,
// subreaper.
#include "proc_common.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define N 4

// settle blocks until child p is a zombie, without reaping it.
static void settle(pid_t p) {
	siginfo_t si;
	int r;
	while ((r = waitid(P_PID, p, &si, WEXITED | WNOWAIT)) < 0 && errno == EINTR) {
	}
	if (r < 0)
		fail("waitid(WNOWAIT) for a child");
}

// which returns the index of pid in kids, or -1.
static int which(const pid_t *kids, int n, pid_t pid) {
	for (int i = 0; i < n; i++)
		if (kids[i] == pid)
			return i;
	return -1;
}

// order: N zombies, wait(-1) reports them oldest first with their statuses.
static int mode_order(void) {
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = xfork();
		if (kids[i] == 0)
			_exit(10 + i);
	}
	// Ended in the reverse order of their birth.
	for (int i = N - 1; i >= 0; i--)
		settle(kids[i]);
	for (int i = 0; i < N; i++) {
		int st;
		pid_t r = wait(&st);
		printf("wait(-1) #%d: child %d, %s\n", i, which(kids, N, r), describe(st));
	}
	int st;
	printf("then: %s\n", wait(&st) < 0 ? errname(errno) : "a child");
	return 0;
}

// pgrp: zombies in two groups; waitpid(-pgid) takes only that group's,
// waitpid(0) only the caller's, a pid only that child.
static int mode_pgrp(void) {
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = xfork();
		if (kids[i] == 0) {
			if (i >= 2)
				setpgid(0, 0);
			_exit(20 + i);
		}
		if (i >= 2)
			setpgid(kids[i], kids[i]); // the child may have done it first
	}
	for (int i = 0; i < N; i++)
		settle(kids[i]);
	int st;
	pid_t r = waitpid(-kids[3], &st, 0);
	printf("waitpid(-pgid of child 3): child %d, %s\n", which(kids, N, r), describe(st));
	r = waitpid(-kids[3], &st, WNOHANG);
	printf("again: %s\n", r < 0 ? errname(errno) : r == 0 ? "none" : "a child");
	r = waitpid(kids[1], &st, 0);
	printf("waitpid(child 1): child %d, %s\n", which(kids, N, r), describe(st));
	r = waitpid(0, &st, 0);
	printf("waitpid(0): child %d, %s\n", which(kids, N, r), describe(st));
	r = waitpid(0, &st, WNOHANG);
	printf("waitpid(0) again: %s\n", r < 0 ? errname(errno) : r == 0 ? "none" : "a child");
	r = waitpid(-1, &st, 0);
	printf("waitpid(-1): child %d, %s\n", which(kids, N, r), describe(st));
	r = waitpid(-1, &st, 0);
	printf("waitpid(-1) again: %s\n", r < 0 ? errname(errno) : "a child");
	return 0;
}

// nowait: WNOWAIT leaves the zombie for the next wait, which reaps it.
static int mode_nowait(void) {
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = xfork();
		if (kids[i] == 0)
			_exit(30 + i);
	}
	settle(kids[1]);
	settle(kids[0]);
	for (int round = 0; round < 2; round++) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) < 0)
			fail("waitid(P_ALL, WNOWAIT)");
		printf("WNOWAIT: child %d, code %d status %d\n", which(kids, 2, si.si_pid),
		       si.si_code, si.si_status);
	}
	int st;
	pid_t r = waitpid(-1, &st, 0);
	printf("then wait: child %d, %s\n", which(kids, 2, r), describe(st));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_ALL, 0, &si, WEXITED) < 0)
		fail("waitid(P_ALL)");
	printf("waitid: child %d, code %d status %d\n", which(kids, 2, si.si_pid), si.si_code, si.si_status);
	printf("then: %s\n", waitpid(-1, &st, WNOHANG) < 0 ? errname(errno) : "a child");
	// A killed child is reported as killed.
	pid_t k = xfork();
	if (k == 0)
		pause_forever(getppid());
	kill(k, SIGKILL);
	settle(k);
	r = waitpid(-1, &st, 0);
	printf("killed: %s, %s\n", r == k ? "the child" : "another", describe(st));
	return 0;
}

static double secs(struct timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

// rusage: the CPU time of waited-for children adds up in
// RUSAGE_CHILDREN; a zombie not yet waited for does not count.
static int mode_rusage(void) {
	struct rusage before, after, got, mid;
	if (getrusage(RUSAGE_CHILDREN, &before) < 0)
		fail("getrusage");
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = xfork();
		if (kids[i] == 0) {
			// Burn about 100 ms of user time.
			struct rusage ru;
			volatile unsigned long x = 0;
			do {
				for (int j = 0; j < 1000000; j++)
					x += j;
				getrusage(RUSAGE_SELF, &ru);
			} while (secs(ru.ru_utime) < 0.1);
			_exit(0);
		}
	}
	settle(kids[0]);
	settle(kids[1]);
	getrusage(RUSAGE_CHILDREN, &mid);
	printf("zombies not counted: %s\n", secs(mid.ru_utime) - secs(before.ru_utime) < 0.1 ? "yes" : "no");
	int st;
	double sum = 0;
	for (int i = 0; i < 2; i++) {
		if (wait4(-1, &st, 0, &got) < 0)
			fail("wait4");
		printf("wait4 rusage of child has its user time: %s\n", secs(got.ru_utime) >= 0.1 ? "yes" : "no");
		sum += secs(got.ru_utime);
	}
	getrusage(RUSAGE_CHILDREN, &after);
	double grew = secs(after.ru_utime) - secs(before.ru_utime);
	printf("RUSAGE_CHILDREN grew by the waited time: %s\n", grew >= sum - 0.0001 && grew >= 0.2 ? "yes" : "no");
	return 0;
}

// clone: a child with another exit signal is seen only with __WCLONE or
// __WALL, a fork child only without __WCLONE.
static int mode_clone(void) {
	signal(SIGUSR1, SIG_IGN); // the clone child's exit signal
	fflush(stdout);
	pid_t c = (pid_t)syscall(SYS_clone, SIGUSR1, 0, 0, 0, 0);
	if (c < 0)
		fail("clone");
	if (c == 0)
		_exit(41);
	pid_t f = xfork();
	if (f == 0)
		_exit(42);
	settle(f);
	siginfo_t si;
	int r;
	while ((r = waitid(P_PID, c, &si, WEXITED | WNOWAIT | __WCLONE)) < 0 && errno == EINTR) {
	}
	if (r < 0)
		fail("waitid(__WCLONE, WNOWAIT)");
	int st;
	pid_t w = waitpid(c, &st, 0);
	printf("waitpid(clone child) without __WCLONE: %s\n", w < 0 ? errname(errno) : "the child");
	w = waitpid(-1, &st, 0);
	printf("waitpid(-1): %s, %s\n", w == f ? "fork child" : w == c ? "clone child" : "?", describe(st));
	w = waitpid(-1, &st, WNOHANG);
	printf("waitpid(-1) again: %s\n", w < 0 ? errname(errno) : w == 0 ? "none" : "a child");
	w = waitpid(-1, &st, __WCLONE);
	printf("waitpid(-1, __WCLONE): %s, %s\n", w == c ? "clone child" : "?", describe(st));
	return 0;
}

// ignored: with SIGCHLD ignored the children reap themselves; wait then
// reports ECHILD. Zombies made before the change stay waitable.
static int mode_ignored(void) {
	pid_t old = xfork();
	if (old == 0)
		_exit(50);
	settle(old);
	signal(SIGCHLD, SIG_IGN);
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = xfork();
		if (kids[i] == 0)
			_exit(51 + i);
	}
	int st;
	pid_t r = waitpid(old, &st, 0);
	printf("zombie from before: %s, %s\n", r == old ? "the child" : "?", describe(st));
	r = waitpid(-1, &st, 0);
	printf("then: %s\n", r < 0 ? errname(errno) : "a child");
	return 0;
}

// inchild runs f in a child (not pid 1, which adopts orphans) and reaps
// it; the child's output goes first.
static int inchild(int (*f)(void)) {
	pid_t m = xfork();
	if (m == 0) {
		fflush(stdout);
		_exit(f());
	}
	int st;
	if (waitpid(m, &st, 0) != m)
		fail("waitpid(middle)");
	printf("middle: %s\n", describe(st));
	return 0;
}

static const char *polled(pid_t r) {
	static char buf[32];
	if (r < 0)
		return errname(errno);
	if (r == 0)
		return "none yet";
	snprintf(buf, sizeof buf, "a child");
	return buf;
}

// echild: WNOHANG before any child ended says none; after the last is
// reaped, ECHILD; a clone child alone is invisible without __WCLONE.
static int echild_body(void) {
	int go[2];
	if (pipe(go) < 0)
		fail("pipe");
	pid_t k = xfork();
	if (k == 0) {
		close(go[1]);
		readbyte(go[0]);
		_exit(61);
	}
	close(go[0]);
	int st;
	printf("running child, WNOHANG: %s\n", polled(waitpid(-1, &st, WNOHANG)));
	writebyte(go[1], 'x');
	close(go[1]);
	pid_t r = waitpid(-1, &st, 0);
	printf("wait: %s, %s\n", r == k ? "the child" : "?", describe(st));
	printf("then WNOHANG: %s\n", polled(waitpid(-1, &st, WNOHANG)));
	printf("then blocking: %s\n", polled(waitpid(-1, &st, 0)));

	signal(SIGUSR1, SIG_IGN);
	fflush(stdout);
	pid_t c = (pid_t)syscall(SYS_clone, SIGUSR1, 0, 0, 0, 0);
	if (c < 0)
		fail("clone");
	if (c == 0) {
		msleep(50);
		_exit(62);
	}
	printf("clone child only, WNOHANG: %s\n", polled(waitpid(-1, &st, WNOHANG)));
	printf("clone child only, __WCLONE|WNOHANG: %s\n", polled(waitpid(-1, &st, __WCLONE | WNOHANG)));
	r = waitpid(-1, &st, __WCLONE);
	printf("__WCLONE: %s, %s\n", r == c ? "the clone child" : "?", describe(st));
	return 0;
}

// subreaper: a subreaper's wait(-1) finds an orphaned grandchild it did
// not fork.
static int subreaper_body(void) {
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		fail("PR_SET_CHILD_SUBREAPER");
	pid_t g = xfork();
	if (g == 0) {
		if (xfork() == 0) {
			msleep(100); // outlives its parent: the subreaper adopts it
			_exit(63);
		}
		_exit(0);
	}
	int st;
	pid_t r = waitpid(g, &st, 0);
	printf("child: %s\n", r == g ? describe(st) : "?");
	r = waitpid(-1, &st, 0);
	printf("orphan: %s, %s\n", r > 0 && r != g ? "the grandchild" : polled(r), r > 0 ? describe(st) : "");
	printf("then WNOHANG: %s\n", polled(waitpid(-1, &st, WNOHANG)));
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "order"))
		return mode_order();
	if (!strcmp(m, "pgrp"))
		return mode_pgrp();
	if (!strcmp(m, "nowait"))
		return mode_nowait();
	if (!strcmp(m, "rusage"))
		return mode_rusage();
	if (!strcmp(m, "clone"))
		return mode_clone();
	if (!strcmp(m, "ignored"))
		return mode_ignored();
	if (!strcmp(m, "echild"))
		return inchild(echild_body);
	if (!strcmp(m, "subreaper"))
		return inchild(subreaper_body);
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}
