// TIOCSCTTY on a pseudo-terminal the program opens, as script and expect
// do, run as the session leader of another pseudo-terminal: only a
// session leader without a controlling terminal may take it; its session
// then reads and sets the foreground group and the session on it, others
// get ENOTTY; another session takes it only by stealing (arg 1, root) or
// once the owner's leader has exited. Prints relations, never raw ids.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int m, f;

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

static int sctty(int arg) {
	errno = 0;
	return ioctl(f, TIOCSCTTY, arg);
}

static void run(void (*fn)(int, int), int in, int out) {
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fn(in, out);
		fflush(stdout);
		_exit(0);
	}
}

static void nonleader(int in, int out) {
	int r = sctty(0);
	printf("non-leader TIOCSCTTY: %d (%s)\n", r, err(r));
}

// owner takes the terminal in a new session, plays with its foreground
// group, tells the parent (out) and waits for it (in) before exiting.
static void owner(int in, int out) {
	signal(SIGTTOU, SIG_IGN);
	setsid();
	int r = sctty(0);
	printf("owner TIOCSCTTY: %d (%s)\n", r, err(r));
	r = sctty(0);
	printf("owner TIOCSCTTY again: %d (%s)\n", r, err(r));
	pid_t s = tcgetsid(f);
	printf("owner tcgetsid is own session: %d (%s)\n", s == getsid(0), err(s));
	pid_t g = tcgetpgrp(f);
	printf("owner tcgetpgrp is own group: %d (%s)\n", g == getpgrp(), err(g));
	int sync[2];
	pipe(sync);
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		char ch;
		close(sync[1]);
		read(sync[0], &ch, 1);
		_exit(0);
	}
	setpgid(c, c);
	r = tcsetpgrp(f, c);
	printf("owner tcsetpgrp child group: %d (%s)\n", r, err(r));
	g = tcgetpgrp(f);
	printf("owner tcgetpgrp is the child's group: %d\n", g == c);
	errno = 0;
	r = tcsetpgrp(f, 999999);
	printf("owner tcsetpgrp no such group: %d (%s)\n", r, err(r));
	r = tcsetpgrp(f, getpgrp());
	printf("owner tcsetpgrp back: %d (%s)\n", r, err(r));
	close(sync[1]);
	waitpid(c, NULL, 0);
	fflush(stdout);
	write(out, "x", 1);
	char ch;
	read(in, &ch, 1);
}

static void thief(int in, int out) {
	setsid();
	int r = sctty(0);
	printf("other session TIOCSCTTY: %d (%s)\n", r, err(r));
	if (geteuid() == 0) {
		r = sctty(1);
		printf("other session steals as root: %d (%s)\n", r, err(r));
		pid_t s = tcgetsid(f);
		printf("thief tcgetsid is own session: %d (%s)\n", s == getsid(0), err(s));
	}
}

static void later(int in, int out) {
	setsid();
	int r = sctty(0);
	printf("new session after the owner left: %d (%s)\n", r, err(r));
	pid_t g = tcgetpgrp(f);
	printf("its tcgetpgrp is own group: %d (%s)\n", g == getpgrp(), err(g));
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		perror("pty");
		return 1;
	}
	f = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (f < 0) {
		perror("follower");
		return 1;
	}
	int r = sctty(0);
	printf("leader with a terminal TIOCSCTTY: %d (%s)\n", r, err(r));
	int null = open("/dev/null", O_RDWR);
	errno = 0;
	r = ioctl(null, TIOCSCTTY, 0);
	printf("/dev/null TIOCSCTTY: %d (%s)\n", r, err(r));

	run(nonleader, -1, -1);
	wait(NULL);

	int up[2], down[2];
	pipe(up);
	pipe(down);
	run(owner, down[0], up[1]);
	char ch;
	read(up[0], &ch, 1);
	errno = 0;
	r = tcgetsid(f);
	printf("outsider tcgetsid: %d (%s)\n", r, err(r));
	errno = 0;
	r = tcgetpgrp(f);
	printf("outsider tcgetpgrp: %d (%s)\n", r, err(r));
	errno = 0;
	r = tcsetpgrp(f, getpgrp());
	printf("outsider tcsetpgrp: %d (%s)\n", r, err(r));
	run(thief, -1, -1);
	wait(NULL);
	write(down[1], "x", 1);
	wait(NULL);

	run(later, -1, -1);
	wait(NULL);
	return 0;
}
