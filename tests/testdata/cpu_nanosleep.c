// cpu_nanosleep: clock_nanosleep on the process CPU clock ends once the
// process used that much CPU (another thread spinning), a signal
// interrupts it with the CPU time left, and the thread clock is EINVAL.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <signal.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
static volatile int stop;
static void *spin(void *a) { volatile unsigned long x = 0; while (!stop) x++; return a; }
static void on(int s) { (void)s; }
int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	// Another thread burns CPU: the process clock advances while main sleeps on it.
	pthread_t th; pthread_create(&th, NULL, spin, NULL);
	struct timespec a, b, req = {0, 200000000};
	clock_gettime(CLOCK_MONOTONIC, &a);
	int r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &req, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double wall = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("slept on the CPU clock: %d, wall >= 0.15 s: %d\n", r, wall >= 0.15);
	stop = 1; pthread_join(th, NULL);
	// Alone, nothing advances it: a signal ends the sleep with EINTR.
	signal(SIGALRM, on); alarm(1);
	req.tv_sec = 5;
	struct timespec rem;
	r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &req, &rem);
	printf("interrupted: %s, rem > 4 s: %d\n", r == EINTR ? "EINTR" : strerror(r), rem.tv_sec >= 4);
	printf("thread clock: %s\n", strerror(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL)));
	return 0;
}
