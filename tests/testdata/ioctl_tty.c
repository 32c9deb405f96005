// Session ioctls on a terminal, run as the session leader of a new
// pseudo-terminal: tcgetsid (TIOCGSID) on the controlling terminal, from
// a child in the session and from one that left it by setsid, and on
// files that are no controlling terminal; tcgetpgrp and tcsetpgrp after
// setsid. Prints relations and errors, never raw ids.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

static void child(void (*fn)(void)) {
	fflush(stdout);
	pid_t p = fork();
	if (p < 0) {
		perror("fork");
		exit(1);
	}
	if (p == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
}

static void in_session(void) {
	pid_t s = tcgetsid(0);
	printf("child: tcgetsid is the parent's session: %d (%s)\n", s == getsid(getppid()), err(s));
	pid_t g = tcgetpgrp(0);
	printf("child: tcgetpgrp is the parent's group: %d (%s)\n", g == getpgid(getppid()), err(g));
}

static void after_setsid(void) {
	if (setsid() < 0) {
		printf("setsid: %s\n", strerror(errno));
		return;
	}
	errno = 0;
	pid_t s = tcgetsid(0);
	printf("after setsid: tcgetsid %d (%s)\n", s < 0 ? -1 : s == getsid(0), err(s));
	errno = 0;
	pid_t g = tcgetpgrp(0);
	printf("after setsid: tcgetpgrp %d (%s)\n", g < 0 ? -1 : 1, err(g));
	errno = 0;
	int r = tcsetpgrp(0, getpgrp());
	printf("after setsid: tcsetpgrp %d (%s)\n", r, err(r));
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t s = tcgetsid(0);
	printf("tcgetsid is own session: %d (%s); leader: %d\n", s == getsid(0), err(s), s == getpid());
	pid_t g = tcgetpgrp(0);
	printf("tcgetpgrp is own group: %d (%s)\n", g == getpgrp(), err(g));

	int p[2];
	if (pipe(p) == 0) {
		errno = 0;
		int r = tcgetsid(p[0]);
		printf("pipe: tcgetsid %d (%s)\n", r, err(r));
	}
	int null = open("/dev/null", O_RDONLY);
	errno = 0;
	int r = tcgetsid(null);
	printf("/dev/null: tcgetsid %d (%s)\n", r, err(r));
	errno = 0;
	r = ioctl(0, TIOCGSID, (void *)8);
	printf("bad pointer: %d (%s)\n", r, err(r));

	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0) {
		errno = 0;
		r = tcgetsid(m);
		printf("new pty leader: tcgetsid %d (%s)\n", r, err(r));
		int f = open(ptsname(m), O_RDWR | O_NOCTTY);
		errno = 0;
		r = tcgetsid(f);
		printf("new pty follower: tcgetsid %d (%s)\n", r, err(r));
	}

	child(in_session);
	child(after_setsid);
	return 0;
}
