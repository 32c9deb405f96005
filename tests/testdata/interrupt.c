// interrupt: signals arriving while the process blocks in a system call:
// EINTR, SA_RESTART, pause, sigsuspend, sigtimedwait, interval timers.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int pfd[2];
static volatile int hits;

static void on_alarm(int sig) {
	(void)sig;
	hits++;
	if (write(pfd[1], "x", 1) != 1)
		_exit(3);
}

static void arm(int ms) {
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void handle(int sig, int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

static const char *en(int e) { return e == EINTR ? "EINTR" : e == EAGAIN ? "EAGAIN" : e == 0 ? "ok" : "other"; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (pipe(pfd) != 0)
		return 1;
	char c;

	// Without SA_RESTART a blocking read fails with EINTR...
	handle(SIGALRM, 0);
	arm(50);
	errno = 0;
	ssize_t n = read(pfd[0], &c, 1);
	printf("read without SA_RESTART: %zd %s hits=%d\n", n, en(errno), hits);
	read(pfd[0], &c, 1); // drain the handler's byte

	// ... with SA_RESTART it restarts and sees the handler's byte.
	handle(SIGALRM, SA_RESTART);
	arm(50);
	errno = 0;
	n = read(pfd[0], &c, 1);
	printf("read with SA_RESTART: %zd %c %s hits=%d\n", n, n == 1 ? c : '?', en(errno), hits);

	// nanosleep is never restarted: EINTR and the time left.
	arm(50);
	struct timespec req = {5, 0}, rem = {0, 0};
	errno = 0;
	int r = nanosleep(&req, &rem);
	// Only "some time was left" is checked: a loaded machine may be slow.
	printf("nanosleep 5s: %d %s time left: %d\n", r, en(errno),
	       (rem.tv_sec > 0 || rem.tv_nsec > 0) && (rem.tv_sec < 5 || (rem.tv_sec == 5 && rem.tv_nsec == 0)));
	read(pfd[0], &c, 1);

	// pause returns after a handled signal.
	arm(50);
	errno = 0;
	r = pause();
	printf("pause: %d %s hits=%d\n", r, en(errno), hits);
	read(pfd[0], &c, 1);

	// sigsuspend: the signal is blocked except while suspended.
	sigset_t block, old, wait;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	arm(50);
	sigemptyset(&wait);
	errno = 0;
	r = sigsuspend(&wait);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	printf("sigsuspend: %d %s hits=%d mask restored=%d\n", r, en(errno), hits, sigismember(&now, SIGALRM));
	read(pfd[0], &c, 1);

	// sigtimedwait takes a blocked pending signal without running the
	// handler, and times out when none comes.
	raise(SIGALRM);
	siginfo_t si;
	struct timespec tmo = {0, 10 * 1000 * 1000};
	r = sigtimedwait(&block, &si, &tmo);
	printf("sigtimedwait pending: %d code=%d hits=%d\n", r, si.si_code, hits);
	errno = 0;
	r = sigtimedwait(&block, &si, &tmo);
	printf("sigtimedwait none: %d %s\n", r, en(errno));
	sigprocmask(SIG_SETMASK, &old, NULL);

	// An interval timer fires repeatedly.
	handle(SIGALRM, SA_RESTART);
	int before = hits;
	struct itimerval it = {{0, 20000}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	while (hits - before < 5)
		read(pfd[0], &c, 1);
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
	struct itimerval cur;
	getitimer(ITIMER_REAL, &cur);
	printf("interval timer fired 5 times, now disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
	// alarm() returns the seconds left on a previous alarm.
	alarm(100);
	printf("alarm left: %u\n", alarm(0));
	return 0;
}
