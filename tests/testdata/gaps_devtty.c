// gaps_devtty: open("/dev/tty") opens the caller's controlling terminal,
// and fails with ENXIO when it has none: after setsid, after TIOCNOTTY,
// or when the program runs without a terminal at all. A session that takes
// a new pseudo-terminal (TIOCSCTTY) gets that one. Prints relations and
// errors, never device numbers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

// open_tty opens /dev/tty and says what it got: an error, or ok and a
// line written through it, which shows on the terminal it is; master, when
// not -1, is the pseudo-terminal leader that line is read back from.
static void open_tty(const char *who, int master) {
	int fd = open("/dev/tty", O_RDWR);
	if (fd < 0) {
		printf("%s: open /dev/tty: %s\n", who, strerror(errno));
		return;
	}
	printf("%s: open /dev/tty: ok\n", who);
	dprintf(fd, "%s: written to /dev/tty\n", who);
	close(fd);
	if (master >= 0) {
		// The line may come in pieces (the output processing turns its
		// "\n" into "\r\n" on its own time): read up to the newline.
		char buf[256];
		size_t n = 0;
		while (n < sizeof buf - 1 && memchr(buf, '\n', n) == NULL) {
			ssize_t k = read(master, buf + n, sizeof buf - 1 - n);
			if (k <= 0)
				break;
			n += (size_t)k;
		}
		buf[n] = 0;
		char *cr;
		while ((cr = strchr(buf, '\r')) != NULL)
			memmove(cr, cr + 1, strlen(cr));
		printf("the new pty shows: %s", buf);
	}
}

static void child(void (*fn)(void)) {
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
}

static void member(void) { open_tty("child in the session", -1); }

static void left(void) {
	if (setsid() < 0) {
		printf("setsid: %s\n", strerror(errno));
		return;
	}
	open_tty("after setsid", -1);
}

static void notty(void) {
	int r = ioctl(0, TIOCNOTTY);
	printf("TIOCNOTTY: %s\n", r < 0 ? strerror(errno) : "ok");
	open_tty("after TIOCNOTTY", -1);
}

static void new_pty(void) {
	if (setsid() < 0)
		return;
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		printf("new pty: %s\n", strerror(errno));
		return;
	}
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0) {
		printf("open follower: %s\n", strerror(errno));
		return;
	}
	open_tty("new session, pty not taken", m);
	int r = ioctl(s, TIOCSCTTY, 0);
	printf("TIOCSCTTY: %s\n", r < 0 ? strerror(errno) : "ok");
	open_tty("new session, pty taken", m);
	if (fork() == 0) {
		open_tty("child of the pty's session", m);
		fflush(stdout);
		_exit(0);
	}
	wait(NULL);
	close(s);
	close(m);
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	open_tty("self", -1);
	child(member);
	child(left);
	child(notty);
	child(new_pty);
	open_tty("self again", -1);
	return 0;
}
