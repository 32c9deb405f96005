// vdso: the clock functions the C library takes from the vDSO
// (AT_SYSINFO_EHDR) agree with the real system calls. Only relations print,
// so the output is the same natively and under elfuse.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

// slack allows for the vDSO clock leading the kernel's by a little.
#define SLACK 5000

static int ordered(clockid_t clk) {
	int ok = 1;
	for (int i = 0; i < 200; i++) {
		struct timespec a, b, c;
		clock_gettime(clk, &a);
		syscall(SYS_clock_gettime, clk, &b);
		clock_gettime(clk, &c);
		if (ns(a) > ns(b) + SLACK || ns(b) > ns(c) + SLACK)
			ok = 0;
	}
	return ok;
}

int main(void) {
	printf("AT_SYSINFO_EHDR set: %d\n", getauxval(AT_SYSINFO_EHDR) != 0);
	// Let elfuse's clock calibrate, then check it.
	struct timespec nap = {0, 30 * 1000 * 1000};
	nanosleep(&nap, NULL);

	int mono = 1;
	struct timespec prev = {0, 0}, now;
	for (int i = 0; i < 100000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ns(now) < ns(prev) || now.tv_nsec < 0 || now.tv_nsec >= 1000000000)
			mono = 0;
		prev = now;
	}
	printf("CLOCK_MONOTONIC never goes back: %d\n", mono);
	printf("CLOCK_MONOTONIC within %dus of the syscall: %d\n", SLACK / 1000, ordered(CLOCK_MONOTONIC));
	printf("CLOCK_REALTIME within %dus of the syscall: %d\n", SLACK / 1000, ordered(CLOCK_REALTIME));
	printf("CLOCK_BOOTTIME (syscall fallback) works: %d\n", clock_gettime(CLOCK_BOOTTIME, &now) == 0);
	printf("bad clock id: %d\n", clock_gettime(12345, &now));

	struct timeval tv;
	struct timespec r;
	gettimeofday(&tv, NULL);
	clock_gettime(CLOCK_REALTIME, &r);
	long long d = ns(r) - (tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL);
	printf("gettimeofday before clock_gettime: %d usec in range: %d\n", d >= -SLACK && d < 1000000000LL, tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	time_t t1, t0 = time(&t1);
	clock_gettime(CLOCK_REALTIME, &r);
	printf("time agrees with itself and clock_gettime: %d\n", t0 == t1 && r.tv_sec - t0 >= 0 && r.tv_sec - t0 <= 1);

	int cpu = sched_getcpu(); // glibc: rseq or the vDSO; musl: the vDSO
	cpu_set_t set;
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof set, &set);
	printf("sched_getcpu in affinity: %d\n", cpu >= 0 && CPU_ISSET(cpu, &set));
	return 0;
}
