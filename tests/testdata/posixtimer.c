/* POSIX timers: timer_create with SIGEV_SIGNAL/SIGEV_NONE/default sigevent,
 * one-shot, periodic, absolute deadlines, gettime/getoverrun, delete, bad
 * arguments, and the SI_TIMER siginfo a handler receives; ITIMER_REAL's
 * SIGALRM siginfo code. Prints only what is deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits, lastcode, lastval, lastid;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	hits++;
	lastcode = si->si_code;
	lastval = si->si_value.sival_int;
	lastid = si->si_timerid;
}

static const char *code_name(int c)
{
	switch (c) {
	case SI_TIMER: return "SI_TIMER";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_USER: return "SI_USER";
	default: return "other";
	}
}

/* check prints a call's result and whether errno is the expected one,
 * evaluating the call first. */
#define check(label, call, want)                                                        \
	do {                                                                             \
		errno = 0;                                                               \
		int r_ = (call);                                                         \
		printf("%s: %d %s\n", label, r_, errno == (want) ? #want : strerror(errno)); \
	} while (0)

static void wait_hits(int n)
{
	sigset_t none;
	sigemptyset(&none);
	while (hits < n)
		sigsuspend(&none);
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN, &sa, 0);
	sigaction(SIGALRM, &sa, 0);
	sigaction(SIGUSR1, &sa, 0);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN);
	sigaddset(&block, SIGALRM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, 0);

	/* One-shot with SIGEV_SIGNAL and a value. */
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 4242;
	timer_t t1;
	printf("create: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t1));
	struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}};
	printf("settime: %d\n", timer_settime(t1, 0, &its, 0));
	struct itimerspec cur;
	timer_gettime(t1, &cur);
	printf("armed, remaining <= 20ms: %d, interval 0: %d\n",
	       cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000,
	       cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 0);
	wait_hits(1);
	printf("one-shot: hits=%d code=%s value=%d timerid matches=%d\n", hits, code_name(lastcode), lastval,
	       lastid == (int)(long)t1);
	timer_gettime(t1, &cur);
	printf("disarmed after expiry: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);

	/* Periodic: 5 ms period, collected with sigwaitinfo. */
	its.it_value.tv_nsec = 5 * 1000 * 1000;
	its.it_interval.tv_nsec = 5 * 1000 * 1000;
	timer_settime(t1, 0, &its, 0);
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	int got = 0;
	for (int i = 0; i < 4; i++) {
		siginfo_t si;
		if (sigwaitinfo(&rt, &si) == SIGRTMIN && si.si_code == SI_TIMER && si.si_value.sival_int == 4242)
			got++;
	}
	printf("periodic: 4 signals collected: %d\n", got == 4);
	/* While blocked, expiries pile up as overruns of one queued signal. */
	usleep(40 * 1000);
	siginfo_t si;
	sigwaitinfo(&rt, &si);
	int overrun = timer_getoverrun(t1);
	struct itimerspec off = {0}, old;
	timer_settime(t1, 0, &off, &old);
	printf("overrun counted while pending: %d getoverrun agrees: %d\n", si.si_overrun >= 2,
	       overrun == si.si_overrun);
	/* Disarming dropped any signal queued since. */
	struct timespec zero = {0, 0};
	errno = 0;
	printf("nothing left queued: %d\n", sigtimedwait(&rt, &si, &zero) == -1 && errno == EAGAIN);
	printf("disarm returns old interval 5ms: %d\n", old.it_interval.tv_sec == 0 && old.it_interval.tv_nsec == 5000000);

	/* Absolute deadline on CLOCK_REALTIME, default sigevent (SIGALRM, value = id). */
	timer_t t2;
	printf("create default: %d\n", timer_create(CLOCK_REALTIME, 0, &t2));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	its = (struct itimerspec){.it_value = now};
	its.it_value.tv_nsec += 10 * 1000 * 1000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	timer_settime(t2, TIMER_ABSTIME, &its, 0);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigwaitinfo(&alrm, &si);
	printf("abstime: code=%s\n", code_name(si.si_code));
	/* An absolute deadline in the past fires at once. */
	its.it_value.tv_sec -= 100;
	timer_settime(t2, TIMER_ABSTIME, &its, 0);
	sigwaitinfo(&alrm, &si);
	printf("past deadline fires: code=%s\n", code_name(si.si_code));

	/* SIGEV_NONE: runs, never signals. */
	timer_t t3;
	sev.sigev_notify = SIGEV_NONE;
	timer_create(CLOCK_MONOTONIC, &sev, &t3);
	its = (struct itimerspec){.it_value = {5, 0}};
	timer_settime(t3, 0, &its, 0);
	timer_gettime(t3, &cur);
	printf("SIGEV_NONE armed: %d\n", cur.it_value.tv_sec >= 4);

	/* CLOCK_TAI runs on the host's clock too. */
	timer_t t4;
	printf("create TAI: %d\n", timer_create(CLOCK_TAI, &sev, &t4));
	its = (struct itimerspec){.it_value = {3, 0}};
	timer_settime(t4, 0, &its, 0);
	timer_gettime(t4, &cur);
	printf("TAI armed: %d\n", cur.it_value.tv_sec >= 2);
	timer_delete(t4);

	/* Errors. */
	check("bad clock", timer_create((clockid_t)99, 0, &t3), EINVAL);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 0;
	check("bad signal", timer_create(CLOCK_MONOTONIC, &sev, &t3), EINVAL);
	printf("delete: %d\n", timer_delete(t1));
	check("delete again", timer_delete(t1), EINVAL);
	check("settime deleted", timer_settime(t1, 0, &its, 0), EINVAL);
	its.it_value.tv_nsec = 1000000000;
	check("bad timespec", timer_settime(t2, 0, &its, 0), EINVAL);
	check("bad pointer", (int)syscall(SYS_timer_settime, (long)t2, 0, (void *)8, 0), EFAULT);
	check("gettime bad id", (int)syscall(SYS_timer_gettime, 12345, &cur), EINVAL);
	check("getoverrun bad id", (int)syscall(SYS_timer_getoverrun, 12345), EINVAL);

	/* ITIMER_REAL's SIGALRM comes from the kernel. */
	struct itimerval iv = {.it_value = {0, 10000}};
	setitimer(ITIMER_REAL, &iv, 0);
	sigwaitinfo(&alrm, &si);
	printf("itimer code=%s\n", code_name(si.si_code));
	return 0;
}
