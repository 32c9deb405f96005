// itimer_cpu: ITIMER_PROF and ITIMER_VIRTUAL, armed at 10 ms intervals,
// deliver SIGPROF and SIGVTALRM while the process spins through 0.5 s of
// its own CPU time (about 50 each natively; at least 10 is asked, the
// timers being polled under elfuse), report their interval, and disarm.
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static volatile int prof, virt;

static void on(int s) {
	if (s == SIGPROF)
		prof++;
	else
		virt++;
}

static double cpu(void) {
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPROF, on);
	signal(SIGVTALRM, on);
	struct itimerval it = {{0, 10000}, {0, 10000}}, g;
	if (setitimer(ITIMER_PROF, &it, 0) < 0 || setitimer(ITIMER_VIRTUAL, &it, 0) < 0) {
		perror("setitimer");
		return 1;
	}
	getitimer(ITIMER_PROF, &g);
	printf("armed: interval %ld us, value set %d\n", g.it_interval.tv_usec, g.it_value.tv_sec || g.it_value.tv_usec);
	volatile unsigned long x = 0;
	double t0 = cpu();
	while (cpu() - t0 < 0.5)
		for (int i = 0; i < 100000; i++)
			x += i;
	struct itimerval off = {{0, 0}, {0, 0}}, old;
	setitimer(ITIMER_PROF, &off, &old);
	setitimer(ITIMER_VIRTUAL, &off, 0);
	printf("old interval %ld us\n", old.it_interval.tv_usec);
	printf("SIGPROF %s, SIGVTALRM %s\n", prof >= 10 && prof <= 60 ? "ticking" : "wrong", virt >= 10 && virt <= 60 ? "ticking" : "wrong");
	getitimer(ITIMER_PROF, &g);
	printf("disarmed: %ld %ld\n", g.it_value.tv_sec, g.it_value.tv_usec);
	int before = prof;
	t0 = cpu();
	while (cpu() - t0 < 0.05)
		x++;
	printf("none after disarming: %d\n", prof == before);
	return 0;
}
