// pty_signals: a session on a pseudo-terminal it took (setsid, TIOCSCTTY)
// gets the signals its terminal sends: ^C, ^\ and ^Z written to the leader
// side, a window size change, and nothing for a character after ^V, with
// ISIG off, or for a resize to the same size; a new foreground group gets
// them instead of the leader's; background members are stopped from
// reading it; closing the leader side sends the session leader SIGHUP.
// Prints what each member reports.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int rep[2]; // members write: 'R' ready, else signal number (+64 from the second group)
static int offset;

static void on_signal(int sig) {
	unsigned char b = (unsigned char)(sig + offset);
	write(rep[1], &b, 1);
	if (offset && sig == SIGINT)
		_exit(0); // the second group ends with its ^C
}

static const char *name(int v) {
	static char buf[32];
	if (v == 'R')
		return "ready";
	if (v == 'T')
		return "foreground group set";
	if (v == 'E')
		return "EINTR";
	if (v == 'I')
		return "EIO";
	if (v == 'K')
		return "done";
	int off = v >= 64 ? 64 : 0;
	const char *n = "?";
	switch (v - off) {
	case SIGINT: n = "SIGINT"; break;
	case SIGQUIT: n = "SIGQUIT"; break;
	case SIGTSTP: n = "SIGTSTP"; break;
	case SIGWINCH: n = "SIGWINCH"; break;
	case SIGTTIN: n = "SIGTTIN"; break;
	case SIGTTOU: n = "SIGTTOU"; break;
	case SIGHUP: n = "SIGHUP"; break;
	}
	snprintf(buf, sizeof buf, "%s%s", off ? "group2 " : "", n);
	return buf;
}

// next prints the next report, or "nothing" when none comes within 10 s
// (a watchdog against a hang, not a measure: native answers at once).
static void next(const char *what) {
	struct pollfd p = {.fd = rep[0], .events = POLLIN};
	unsigned char b;
	if (poll(&p, 1, 10000) != 1 || read(rep[0], &b, 1) != 1) {
		printf("%s: nothing\n", what);
		fflush(stdout);
		return;
	}
	printf("%s: %s\n", what, name(b));
	fflush(stdout);
}

static void type(int m, const char *s, size_t n) {
	if (write(m, s, n) != (ssize_t)n)
		perror("write leader");
}

static void report(char c) { write(rep[1], &c, 1); }

// outcome reports how a terminal access that job control may stop ended.
static void outcome(int r) {
	report(r >= 0 ? 'K' : errno == EINTR ? 'E' : errno == EIO ? 'I' : '?');
}

static void catch(int sig, void (*h)(int)) {
	struct sigaction sa = {.sa_handler = h}; // no SA_RESTART
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

// background is a member of the session in a group of its own, not the
// terminal's foreground one (not orphaned: its parent, the leader, is in
// the session): its reads get SIGTTIN (EIO when it ignores it), its
// changes of the settings and, with TOSTOP, its writes SIGTTOU.
static void background(int s) {
	char c;
	catch(SIGTTIN, on_signal);
	catch(SIGTTOU, on_signal);
	outcome(read(s, &c, 1));
	signal(SIGTTIN, SIG_IGN);
	outcome(read(s, &c, 1));
	struct termios t;
	tcgetattr(s, &t);
	t.c_lflag |= TOSTOP;
	outcome(tcsetattr(s, TCSANOW, &t));
	signal(SIGTTOU, SIG_IGN);
	outcome(tcsetattr(s, TCSANOW, &t));
	catch(SIGTTOU, on_signal);
	outcome(write(s, "x", 1));
	_exit(0);
}

static void catch_all(void) {
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	int sigs[] = {SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP};
	for (int i = 0; i < 5; i++)
		sigaction(sigs[i], &sa, NULL);
}

int main(void) {
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		perror("pty");
		return 1;
	}
	char *follower = strdup(ptsname(m));
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	ioctl(m, TIOCSWINSZ, &ws);
	if (pipe(rep))
		return 1;
	int go[2];
	if (pipe(go))
		return 1;
	errno = 0;
	pid_t pg0 = tcgetpgrp(m), sid0 = tcgetsid(m);
	printf("leader side, no session: foreground %d, session %d (%s)\n", pg0, sid0, strerror(errno));
	pid_t leader = fork();
	if (leader == 0) {
		close(m); // the leader side's last close is the parent's
		setsid();
		int s = open(follower, O_RDWR | O_NOCTTY);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0) {
			perror("take the terminal");
			_exit(1);
		}
		catch_all();
		write(rep[1], "R", 1);
		char c;
		while (read(go[0], &c, 1) < 0 && errno == EINTR) // then make a second
			; // group the foreground one
		int gp[2];
		if (pipe(gp))
			_exit(1);
		pid_t g2 = fork();
		if (g2 == 0) {
			offset = 64;
			setpgid(0, 0);
			write(gp[1], "g", 1);
			for (;;)
				pause();
		}
		while (read(gp[0], &c, 1) < 0 && errno == EINTR)
			;
		setpgid(g2, g2);
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(s, g2) < 0)
			perror("tcsetpgrp");
		write(rep[1], "T", 1);
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		pid_t g3 = fork();
		if (g3 == 0) {
			setpgid(0, 0);
			background(s);
		}
		for (;;)
			pause();
	}
	next("leader");
	pid_t pg = tcgetpgrp(m), sid = tcgetsid(m);
	printf("leader side: foreground %s, session %s\n", pg == leader ? "the leader" : pg == 0 ? "none" : "other",
	       sid == leader ? "the leader's" : sid < 0 ? strerror(errno) : "other");
	type(m, "\003", 1);
	next("^C");
	type(m, "\034", 1);
	next("^\\");
	type(m, "\032", 1);
	next("^Z");
	ws.ws_col = 100;
	ioctl(m, TIOCSWINSZ, &ws);
	next("resize");
	ioctl(m, TIOCSWINSZ, &ws); // the same size: no signal
	type(m, "\026\034", 2);   // ^V ^\ : a literal ^\ .
	type(m, "\003", 1);
	next("same size, ^V^\\, ^C");

	// A read finds the input processed (n_tty flushes pending input work
	// first): the ^C above emptied the queue, the ^V^\ line with it.
	int sf = open(follower, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (sf < 0)
		perror("open follower");
	unsigned char line[8];
	ssize_t got = read(sf, line, sizeof line);
	printf("input after ^C: %zd (%s)\n", got, got < 0 ? strerror(errno) : "data");
	fcntl(sf, F_SETFL, O_RDWR);
	struct termios t;
	tcgetattr(m, &t);
	t.c_lflag &= ~ISIG;
	tcsetattr(m, TCSANOW, &t);
	type(m, "\003\n", 2); // data now: read it back before ISIG returns,
	                        // as the host reads input on its own time
	got = read(sf, line, sizeof line);
	printf("no ISIG: read %zd bytes, first %#x\n", got, got > 0 ? line[0] : 0);
	t.c_lflag |= ISIG;
	tcsetattr(m, TCSANOW, &t);
	type(m, "\034", 1);
	next("then ^\\");

	write(go[1], "g", 1);
	next("second group");
	pg = tcgetpgrp(m);
	printf("leader side: foreground %s\n", pg == leader ? "the leader" : pg > 0 ? "another group" : "none");
	ws.ws_row = 30;
	ioctl(m, TIOCSWINSZ, &ws);
	next("resize");
	type(m, "\003", 1);
	next("^C");

	write(go[1], "g", 1); // a background member of the session
	next("background read");
	next("background read");
	next("background read, SIGTTIN ignored");
	next("background tcsetattr");
	next("background tcsetattr");
	next("background tcsetattr, SIGTTOU ignored");
	next("background write, TOSTOP");
	next("background write, TOSTOP");

	close(m); // hangs the follower up: SIGHUP (and SIGCONT) to the leader
	next("leader side closed");

	kill(leader, SIGKILL);
	int st;
	waitpid(leader, &st, 0);
	printf("leader killed: %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	return 0;
}
