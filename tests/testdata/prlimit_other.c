// prlimit_other: prlimit(2) of another process: reading and setting a
// child's limits (the child sees them), a thread id of the caller's own,
// a pid that does not exist, a bad resource, a hard limit raised, and a
// caller with other ids and no CAP_SYS_RESOURCE refused.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, int r, struct rlimit *l) {
	if (r < 0)
		printf("%s: %s\n", what, strerror(errno));
	else
		printf("%s: %llu %llu\n", what, (unsigned long long)l->rlim_cur, (unsigned long long)l->rlim_max);
}

int main(void) {
	int go[2], done[2];
	if (pipe(go) || pipe(done))
		return 1;
	struct rlimit mine;
	getrlimit(RLIMIT_NOFILE, &mine);
	pid_t c = fork();
	if (c == 0) {
		char b;
		read(go[0], &b, 1); // the parent has set our limits
		struct rlimit l;
		getrlimit(RLIMIT_NOFILE, &l);
		show("child sees its nofile", 0, &l);
		getrlimit(RLIMIT_STACK, &l);
		show("child sees its stack", 0, &l);
		fflush(stdout);
		write(done[1], "x", 1);
		_exit(0);
	}
	struct rlimit old, l = {64, 128};
	show("child's nofile", prlimit(c, RLIMIT_NOFILE, NULL, &old), &old);
	show("set it to 64 128, old", prlimit(c, RLIMIT_NOFILE, &l, &old), &old);
	show("read it back", prlimit(c, RLIMIT_NOFILE, NULL, &old), &old);
	l.rlim_cur = 8 << 20;
	l.rlim_max = 16 << 20;
	show("set its stack, old", prlimit(c, RLIMIT_STACK, &l, &old), &old);
	l.rlim_cur = 100;
	l.rlim_max = 10;
	show("cur above max", prlimit(c, RLIMIT_NOFILE, &l, NULL), &l);
	show("bad resource", prlimit(c, 99, NULL, &old), &old);
	show("no such pid", prlimit(99999, RLIMIT_NOFILE, NULL, &old), &old);
	show("no such pid, bad resource", prlimit(99999, 99, NULL, &old), &old);
	show("own thread id", prlimit(syscall(SYS_gettid), RLIMIT_NOFILE, NULL, &old), &old);
	if (geteuid() == 0) {
		l.rlim_cur = 128;
		l.rlim_max = 256;
		show("raise its hard limit as root", prlimit(c, RLIMIT_NOFILE, &l, NULL), &l);
	}
	fflush(stdout);
	write(go[1], "x", 1);
	char b;
	read(done[0], &b, 1);
	waitpid(c, NULL, 0);
	if (geteuid() == 0) {
		// A child with other ids and no capabilities may not touch
		// its root parent's limits, nor read them.
		pid_t parent = getpid();
		pid_t u = fork();
		if (u == 0) {
			if (setgid(1000) || setuid(1000))
				_exit(1);
			show("unprivileged reads root's", prlimit(parent, RLIMIT_NOFILE, NULL, &old), &old);
			l.rlim_cur = 10;
			l.rlim_max = mine.rlim_max;
			show("unprivileged sets root's", prlimit(parent, RLIMIT_NOFILE, &l, NULL), &l);
			fflush(stdout);
			_exit(0);
		}
		waitpid(u, NULL, 0);
		getrlimit(RLIMIT_NOFILE, &l);
		printf("ours unchanged: %d\n", l.rlim_cur == mine.rlim_cur);
	}
	return 0;
}
