// cpu_clock: a process's own CPU clocks (clock_gettime of the process and
// thread CPU clocks, clock(), getrusage(RUSAGE_SELF), times()) agree with
// the CPU time its parent's wait4 reports for it, for a child that spins
// through a fixed amount of work. Twice, so that the second child may run
// where the first ran (a recycled host process must not count it).
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ts(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

// close enough: CPU times from different clocks of one process (tick
// granularity, the work of reporting itself).
static int close_to(double a, double b) { return a > b - 0.05 - b / 5 && a < b + 0.05 + b / 5; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int round = 0; round < 2; round++) {
		int p[2];
		if (pipe(p) < 0)
			return 3;
		pid_t c = fork();
		if (c == 0) {
			volatile unsigned long x = 0;
			for (unsigned long i = 0; i < 600000000UL; i++)
				x += i;
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			struct tms t;
			times(&t);
			double v[5] = {ts(CLOCK_PROCESS_CPUTIME_ID), ts(CLOCK_THREAD_CPUTIME_ID),
				       (double)clock() / CLOCKS_PER_SEC, tv(ru.ru_utime) + tv(ru.ru_stime),
				       (double)(t.tms_utime + t.tms_stime) / sysconf(_SC_CLK_TCK)};
			write(p[1], v, sizeof v);
			_exit(0);
		}
		close(p[1]);
		double v[5];
		if (read(p[0], v, sizeof v) != sizeof v)
			return 4;
		close(p[0]);
		struct rusage ru;
		int st;
		if (wait4(c, &st, 0, &ru) != c)
			return 5;
		double waited = tv(ru.ru_utime) + tv(ru.ru_stime);
		static const char *names[5] = {"process clock", "thread clock", "clock()", "getrusage", "times"};
		printf("round %d: wait4 saw %s\n", round, waited > 0.02 ? "CPU time" : "no CPU time");
		for (int i = 0; i < 5; i++)
			printf("round %d: %s %s\n", round, names[i], close_to(v[i], waited) ? "matches wait4" : "differs");
		if (getenv("CPU_CLOCK_VERBOSE"))
			fprintf(stderr, "wait4 %.3f: %.3f %.3f %.3f %.3f %.3f\n", waited, v[0], v[1], v[2], v[3], v[4]);
	}
	return 0;
}
