// proc_ticket: forks the way shells and make do, one child after another,
// so that under elfuse most forks go over fork tickets (an ended child's
// guestproc joined to its parent's next fork) and every way a ticket can
// end is taken: used by fork, vfork or posix_spawn, carried across exec,
// left unused by a process that ends, refused by --max-procs.
//   proc_ticket MODE
// MODE is one of: loop, unused, exec, burst, limit, stale (the last two
// are for elfuse only: see tests/proc_ticket_test.go).
#include "proc_common.h"

#include <fcntl.h>
#include <spawn.h>

extern char **environ;

static const char *self;

// report is what every child sends its parent: who it is and who it
// thinks its parent is.
struct report {
	int pid, ppid;
};

static void send_report(int fd) {
	struct report r = {getpid(), getppid()};
	if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(98);
}

// check reads child p's report from fd, reaps it and fails unless both say
// what the parent knows: the pid fork gave, this process as the parent,
// exit status code.
static void check(int fd, pid_t p, int code, const char *how, int i) {
	struct report r;
	ssize_t n;
	while ((n = read(fd, &r, sizeof r)) < 0 && errno == EINTR) {
	}
	if (n != (ssize_t)sizeof r)
		fail("%s %d: no report (%zd bytes)", how, i, n);
	if (r.pid != p)
		fail("%s %d: child says pid %d, fork said %d", how, i, r.pid, (int)p);
	if (r.ppid != getpid())
		fail("%s %d: child says ppid %d, parent is %d", how, i, r.ppid, (int)getpid());
	int st;
	pid_t w;
	while ((w = waitpid(p, &st, 0)) < 0 && errno == EINTR) {
	}
	if (w != p)
		fail("%s %d: waitpid returned %d", how, i, (int)w);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail("%s %d: %s, want exited %d", how, i, describe(st), code);
}

// one makes child i the way i picks (fork, vfork, posix_spawn) and checks
// it; the child ends with status i % 50.
static void one(int i, int kinds) {
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	int code = i % 50;
	pid_t c;
	const char *how;
	switch (i % kinds) {
	case 0:
		how = "fork";
		c = xfork();
		if (c == 0) {
			send_report(p[1]);
			_exit(code);
		}
		break;
	case 1:
		how = "vfork";
		fflush(stdout);
		c = vfork();
		if (c < 0)
			fail("vfork");
		if (c == 0) {
			send_report(p[1]);
			_exit(code);
		}
		break;
	default: {
		how = "posix_spawn";
		char fd[16], cs[16];
		snprintf(fd, sizeof fd, "%d", p[1]);
		snprintf(cs, sizeof cs, "%d", code);
		char *argv[] = {(char *)self, "report", fd, cs, NULL};
		int err = posix_spawn(&c, self, NULL, NULL, argv, environ);
		if (err != 0) {
			errno = err;
			fail("posix_spawn %d", i);
		}
	}
	}
	close(p[1]);
	check(p[0], c, code, how, i);
	close(p[0]);
}

// loop: children one after another, each ended and reaped before the
// next, by fork, vfork and posix_spawn in turn.
static int mode_loop(void) {
	for (int i = 0; i < 60; i++)
		one(i, 3);
	printf("loop: 60 children by fork, vfork and posix_spawn: pids, parents and statuses as the parent saw them\n");
	return 0;
}

// unused: children that fork and reap a grandchild (so that under elfuse
// they hold a ticket) and end without forking again, half of them at once,
// half after a pause (their ticket has arrived by then); then the parent
// goes on forking.
static int mode_unused(void) {
	for (int i = 0; i < 8; i++) {
		pid_t c = xfork();
		if (c == 0) {
			pid_t g = xfork();
			if (g == 0)
				_exit(3);
			int st;
			if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
				_exit(90);
			if (i % 2)
				msleep(30);
			_exit(4);
		}
		char label[32];
		snprintf(label, sizeof label, "child %d", i);
		reap(c, label);
	}
	for (int i = 0; i < 20; i++)
		one(i, 1);
	printf("20 forks after the unused tickets: pids, parents and statuses as the parent saw them\n");
	return 0;
}

// exec: a child forks and reaps a grandchild, waits (its ticket arrives),
// execs this program, and the new image forks again.
static int mode_exec(void) {
	for (int i = 0; i < 4; i++) {
		pid_t c = xfork();
		if (c == 0) {
			pid_t g = xfork();
			if (g == 0)
				_exit(3);
			if (waitpid(g, NULL, 0) != g)
				_exit(90);
			msleep(20);
			char *argv[] = {(char *)self, "afterexec", NULL};
			execv(self, argv);
			_exit(91);
		}
		char label[32];
		snprintf(label, sizeof label, "exec child %d", i);
		reap(c, label);
	}
	return 0;
}

static int mode_afterexec(void) {
	for (int i = 0; i < 5; i++)
		one(i, 3);
	fflush(stdout);
	_exit(5);
}

// burst: three children forked without waiting that all end before the
// parent reaps them (one ticket, two spares), then more children.
static int mode_burst(void) {
	pid_t c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = xfork();
		if (c[i] == 0)
			_exit(10 + i);
	}
	msleep(50);
	for (int i = 2; i >= 0; i--) {
		char label[32];
		snprintf(label, sizeof label, "burst child %d", i);
		reap(c[i], label);
	}
	for (int i = 0; i < 12; i++)
		one(i, 3);
	printf("12 children after the burst: pids, parents and statuses as the parent saw them\n");
	return 0;
}

// limit (elfuse --max-procs 3): a fork refused while the parent holds a
// ticket. A sleeper and an ended, unreaped child fill the tree; the ended
// child's exit gave this process its ticket.
static int mode_limit(void) {
	pid_t parent = getpid();
	pid_t s = xfork();
	if (s == 0)
		pause_forever(parent);
	pid_t x = xfork();
	if (x == 0)
		_exit(7);
	siginfo_t si;
	if (waitid(P_PID, x, &si, WEXITED | WNOWAIT) < 0)
		fail("waitid");
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	printf("fork with the tree full: %s\n", p < 0 ? errname(errno) : "made a child");
	reap(x, "ended child");
	one(0, 1);
	printf("fork after reaping: pid, parent and status as the parent saw them\n");
	kill(s, SIGKILL);
	reap(s, "sleeper");
	return 0;
}

// stale: a child ends (this process gets its ticket), then the test kills
// every spare guestproc, the ticket's included, and says go on stdin; the
// forks after must all work, and leave no child behind.
static int mode_stale(void) {
	pid_t x = xfork();
	if (x == 0)
		_exit(7);
	reap(x, "first child");
	printf("ready\n");
	fflush(stdout);
	char b;
	while (read(0, &b, 1) < 0 && errno == EINTR) {
	}
	for (int i = 0; i < 6; i++)
		one(i, 3);
	// No other child: none that a fork made and gave up on.
	int st;
	pid_t w = waitpid(-1, &st, WNOHANG);
	if (w != -1 || errno != ECHILD)
		fail("a child nobody forked: waitpid(-1) = %d, %s", (int)w, w > 0 ? describe(st) : errname(errno));
	printf("6 children after the spares died: pids, parents and statuses as the parent saw them\n");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	self = argv[0];
	if (argc == 4 && strcmp(argv[1], "report") == 0) {
		send_report(atoi(argv[2]));
		return atoi(argv[3]);
	}
	if (argc != 2) {
		fprintf(stderr, "usage: proc_ticket loop|unused|exec|burst|limit|stale\n");
		return 2;
	}
	watchdog();
	const char *m = argv[1];
	if (strcmp(m, "loop") == 0)
		return mode_loop();
	if (strcmp(m, "unused") == 0)
		return mode_unused();
	if (strcmp(m, "exec") == 0)
		return mode_exec();
	if (strcmp(m, "afterexec") == 0)
		return mode_afterexec();
	if (strcmp(m, "burst") == 0)
		return mode_burst();
	if (strcmp(m, "limit") == 0)
		return mode_limit();
	if (strcmp(m, "stale") == 0)
		return mode_stale();
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}
