/* POSIX timers on the process's CPU-time clock: a one-shot expiry after
 * that much CPU (not wall) time, with its SI_TIMER siginfo; gettime while
 * armed; periodic expiries; an absolute deadline; time asleep does not
 * count; disarming. Prints only what is deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits, lastcode, lastval;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	hits++;
	lastcode = si->si_code;
	lastval = si->si_value.sival_int;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* spin_until burns CPU until n expiries came, or gives up after 10 s of
 * CPU (a timer that never fires then shows as a wrong line, not a hang). */
static void spin_until(int n)
{
	double end = cpu() + 10;
	while (hits < n && cpu() < end)
		;
}

static void spin_for(double s)
{
	double end = cpu() + s;
	while (cpu() < end)
		;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR2, &sa, 0);
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	sev.sigev_value.sival_int = 7;
	timer_t t;
	if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &t) != 0) {
		printf("create: %s\n", strerror(errno));
		return 1;
	}
	printf("created\n");
	struct itimerspec cur, its = {0};
	timer_gettime(t, &cur);
	printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_nsec);

	/* One shot after 100 ms of CPU. */
	double c0 = cpu();
	its.it_value.tv_nsec = 100 * 1000000;
	printf("arm: %d\n", timer_settime(t, 0, &its, 0));
	spin_until(1);
	printf("fired after >= 100 ms of CPU: %d, code SI_TIMER: %d, value %d\n", cpu() - c0 >= 0.099,
	       lastcode == SI_TIMER, (int)lastval);

	/* Armed for 10 s: gettime shows most of it left. */
	its.it_value.tv_sec = 10;
	its.it_value.tv_nsec = 0;
	timer_settime(t, 0, &its, 0);
	timer_gettime(t, &cur);
	printf("left between 9 and 10 s: %d\n", cur.it_value.tv_sec == 9 || (cur.it_value.tv_sec == 10 && cur.it_value.tv_nsec == 0));

	/* Sleeping does not count: 50 ms of CPU, then 200 ms asleep. */
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 50 * 1000000;
	struct itimerspec old;
	timer_settime(t, 0, &its, &old);
	printf("old value from the 10 s setting: %d\n", old.it_value.tv_sec == 9 || old.it_value.tv_sec == 10);
	hits = 0;
	struct timespec nap = {0, 200 * 1000000};
	nanosleep(&nap, 0);
	printf("no expiry while asleep: %d\n", hits == 0);
	spin_until(1);
	printf("then after CPU: %d\n", hits == 1);

	/* Periodic, 20 ms of CPU. */
	hits = 0;
	c0 = cpu();
	its.it_value.tv_nsec = 20 * 1000000;
	its.it_interval.tv_nsec = 20 * 1000000;
	timer_settime(t, 0, &its, 0);
	spin_until(5);
	printf("5 periodic expiries after >= 100 ms of CPU: %d\n", cpu() - c0 >= 0.099);

	/* Disarm: no more. */
	its = (struct itimerspec){0};
	timer_settime(t, 0, &its, 0);
	hits = 0;
	spin_for(0.06);
	printf("disarmed, none after 60 ms of CPU: %d\n", hits == 0);

	/* Absolute: the clock's value 50 ms from now. */
	struct timespec now;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
	its.it_value = now;
	its.it_value.tv_nsec += 50 * 1000000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	timer_settime(t, TIMER_ABSTIME, &its, 0);
	spin_until(1);
	printf("absolute deadline fired: %d\n", hits == 1);
	printf("delete: %d\n", timer_delete(t));
	return 0;
}
