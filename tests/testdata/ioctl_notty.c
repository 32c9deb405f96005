// TIOCNOTTY, run as the session leader of a new pseudo-terminal. Mode
// "member": a child that is no session leader gives the terminal up and
// only it loses it. Mode "leader": the leader gives it up; its
// foreground group (the leader and a child) gets SIGHUP and SIGCONT, a
// child in a background group nothing, and the whole session loses it.
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

static volatile sig_atomic_t hups, conts;

static void on_sig(int sig) {
	if (sig == SIGHUP)
		hups++;
	else
		conts++;
}

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

static void show(const char *who) {
	errno = 0;
	pid_t s = tcgetsid(0);
	int se = errno;
	errno = 0;
	pid_t g = tcgetpgrp(0);
	int ge = errno;
	printf("%s: tcgetsid %s, tcgetpgrp %s\n", who, s < 0 ? strerror(se) : "ok", g < 0 ? strerror(ge) : "ok");
}

static int notty(int fd) {
	errno = 0;
	return ioctl(fd, TIOCNOTTY);
}

static void member(void) {
	pid_t p = fork();
	if (p == 0) {
		int r = notty(0);
		printf("child TIOCNOTTY: %d (%s)\n", r, err(r));
		show("child after");
		r = notty(0);
		printf("child TIOCNOTTY again: %d (%s)\n", r, err(r));
		printf("child signals: hup=%d cont=%d\n", hups, conts);
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, NULL, 0);
	show("leader");
	printf("leader signals: hup=%d cont=%d\n", hups, conts);
}

static void leader(void) {
	sigset_t both, old;
	sigemptyset(&both);
	sigaddset(&both, SIGHUP);
	sigaddset(&both, SIGCONT);
	int ready[2], go[2];
	if (pipe(ready) < 0 || pipe(go) < 0)
		exit(1);
	sigprocmask(SIG_BLOCK, &both, &old);
	pid_t fg = fork();
	if (fg == 0) {
		write(ready[1], "x", 1);
		while (hups == 0 || conts == 0)
			sigsuspend(&old);
		printf("foreground child signals: hup=%d cont=%d\n", hups, conts);
		show("foreground child");
		fflush(stdout);
		_exit(0);
	}
	pid_t bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		write(ready[1], "x", 1);
		char c;
		read(go[0], &c, 1);
		printf("background child signals: hup=%d cont=%d\n", hups, conts);
		show("background child");
		fflush(stdout);
		_exit(0);
	}
	setpgid(bg, bg);
	char c;
	read(ready[0], &c, 1);
	read(ready[0], &c, 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	int r = notty(0);
	int e = errno;
	waitpid(fg, NULL, 0);
	errno = e;
	printf("leader TIOCNOTTY: %d (%s)\n", r, err(r));
	printf("leader signals: hup=%d cont=%d\n", hups, conts);
	show("leader after");
	fflush(stdout);
	write(go[1], "x", 1);
	waitpid(bg, NULL, 0);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = {.sa_handler = on_sig};
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCONT, &sa, NULL);
	int null = open("/dev/null", O_RDWR);
	int r = notty(null);
	printf("/dev/null: %d (%s)\n", r, err(r));
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m >= 0) {
		r = notty(m);
		printf("new pty leader: %d (%s)\n", r, err(r));
	}
	if (argc > 1 && strcmp(argv[1], "leader") == 0)
		leader();
	else
		member();
	return 0;
}
