// proc_intr: a signal sent by another process interrupts a blocked system
// call: EINTR without SA_RESTART, a transparent restart with it (where
// Linux restarts that call).
//   proc_intr
#include "proc_common.h"

#include <poll.h>
#include <sys/time.h>

static volatile sig_atomic_t handled;

static void on_signal(int sig) { handled = sig; }

static void install(int sig, int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		fail("sigaction");
}

// Delays in the helper child: long enough for the parent to be blocked
// in the call under test when the signal comes.
enum { SIGNAL_AFTER_MS = 200, WRITE_AFTER_MS = 200 };

// helper forks a child that, after a delay, sends sig to the parent, then
// after another delay writes one byte to wfd (if >= 0), then exits with 0.
static pid_t helper(int sig, int wfd, int closefd) {
	pid_t parent = getpid();
	pid_t c = xfork();
	if (c == 0) {
		if (closefd >= 0)
			close(closefd);
		msleep(SIGNAL_AFTER_MS);
		kill(parent, sig);
		if (wfd >= 0) {
			msleep(WRITE_AFTER_MS);
			writebyte(wfd, 'x');
		}
		_exit(0);
	}
	return c;
}

static void result(const char *what, long r, int e) {
	printf("%s: returned %ld%s%s, handler ran %d\n", what, r, r < 0 ? " " : "", r < 0 ? errname(e) : "",
	       handled != 0);
	handled = 0;
}

static void case_read(int flags, const char *what) {
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	install(SIGUSR1, flags);
	pid_t c = helper(SIGUSR1, p[1], p[0]);
	char b;
	long r = read(p[0], &b, 1);
	result(what, r, errno);
	if (r < 0) // the byte still comes: read it so the pipe is empty
		r = read(p[0], &b, 1);
	printf("  then read %ld byte '%c'\n", r, r == 1 ? b : '?');
	reap(c, "  helper");
	close(p[0]);
	close(p[1]);
}

static void case_wait(int flags, const char *what) {
	install(SIGUSR1, flags);
	// The helper signals us and then, after the delay, exits (the write
	// end is a pipe nobody reads: use -1 and exit later instead).
	pid_t parent = getpid();
	pid_t c = xfork();
	if (c == 0) {
		msleep(SIGNAL_AFTER_MS);
		kill(parent, SIGUSR1);
		msleep(WRITE_AFTER_MS);
		_exit(8);
	}
	int st = 0;
	long r = wait4(c, &st, 0, NULL);
	int e = errno;
	printf("%s: returned %s%s, handler ran %d\n", what, r == c ? "the child" : r < 0 ? "-1 " : "?",
	       r < 0 ? errname(e) : "", handled != 0);
	handled = 0;
	if (r == c)
		printf("  %s\n", describe(st));
	else
		reap(c, "  child, waited again");
}

static void case_nanosleep(int flags, const char *what) {
	install(SIGUSR1, flags);
	pid_t c = helper(SIGUSR1, -1, -1);
	struct timespec ts = {3, 0}, rem = {0, 0};
	long r = nanosleep(&ts, &rem);
	result(what, r, errno);
	printf("  remaining time reported: %d\n", r < 0 && (rem.tv_sec > 0 || rem.tv_nsec > 0) && rem.tv_sec < 3);
	reap(c, "  helper");
}

static void case_pause(const char *what) {
	install(SIGUSR1, SA_RESTART);
	pid_t c = helper(SIGUSR1, -1, -1);
	long r = pause();
	result(what, r, errno);
	reap(c, "  helper");
}

static void case_poll(int flags, const char *what) {
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	install(SIGUSR1, flags);
	pid_t c = helper(SIGUSR1, -1, -1);
	struct pollfd pfd = {p[0], POLLIN, 0};
	long r = poll(&pfd, 1, 3000);
	result(what, r, errno);
	reap(c, "  helper");
	close(p[0]);
	close(p[1]);
}

static void case_sigsuspend(const char *what) {
	install(SIGUSR2, 0);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t c = helper(SIGUSR2, -1, -1);
	long r = sigsuspend(&old);
	result(what, r, errno);
	sigprocmask(SIG_SETMASK, &old, NULL);
	reap(c, "  helper");
}

// A signal whose disposition is ignore, or that is blocked, does not
// interrupt anything: the read completes with the helper's byte.
static void case_ignored(void) {
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	signal(SIGUSR1, SIG_IGN);
	pid_t c = helper(SIGUSR1, p[1], p[0]);
	char b;
	long r = read(p[0], &b, 1);
	result("read, SIGUSR1 ignored", r, errno);
	reap(c, "  helper");
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	install(SIGUSR2, 0);
	sigprocmask(SIG_BLOCK, &block, NULL);
	c = helper(SIGUSR2, p[1], p[0]);
	r = read(p[0], &b, 1);
	result("read, SIGUSR2 blocked", r, errno);
	sigset_t pend;
	sigpending(&pend);
	printf("  SIGUSR2 pending: %d\n", sigismember(&pend, SIGUSR2));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	printf("  handler ran once unblocked: %d\n", handled != 0);
	handled = 0;
	reap(c, "  helper");
	close(p[0]);
	close(p[1]);
}

// A timer's SIGALRM interrupts a read in the same process.
static void case_alarm(void) {
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	install(SIGALRM, 0);
	struct itimerval it = {{0, 0}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	char b;
	long r = read(p[0], &b, 1);
	result("read, SIGALRM from setitimer", r, errno);
	close(p[0]);
	close(p[1]);
}

// A signal that kills: the parent's wait reports it and nothing hangs.
static void case_fatal(void) {
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	pid_t c = xfork();
	if (c == 0) {
		close(p[1]);
		char b;
		read(p[0], &b, 1); // blocked here when SIGTERM comes
		_exit(1);
	}
	close(p[0]);
	msleep(SIGNAL_AFTER_MS);
	kill(c, SIGTERM);
	reap(c, "child blocked in read, SIGTERM");
	close(p[1]);
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	watchdog();
	case_read(0, "read, no SA_RESTART");
	case_read(SA_RESTART, "read, SA_RESTART");
	case_wait(0, "wait4, no SA_RESTART");
	case_wait(SA_RESTART, "wait4, SA_RESTART");
	case_nanosleep(0, "nanosleep, no SA_RESTART");
	case_nanosleep(SA_RESTART, "nanosleep, SA_RESTART");
	case_pause("pause");
	case_poll(0, "poll, no SA_RESTART");
	case_poll(SA_RESTART, "poll, SA_RESTART");
	case_sigsuspend("sigsuspend");
	case_ignored();
	case_alarm();
	watchdog(); // case_alarm used the same timer
	case_fatal();
	return 0;
}
