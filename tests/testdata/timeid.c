// timeid: clocks and identity. Values that differ from run to run (pids,
// times) print as relations; values that are the same natively and under
// elfuse (uids, uname, limits, CPU count) print as they are.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static double ts(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

int main(void) {
	struct timespec a, b, r;
	int mono = 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 2000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (ts(b) < ts(a))
			mono = 0;
		a = b;
	}
	printf("monotonic never goes back: %d\n", mono);
	struct timespec sl = {0, 20 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &a);
	nanosleep(&sl, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("nanosleep 20ms slept >= 20ms: %d\n", ts(b) - ts(a) >= 0.020);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	clock_gettime(CLOCK_REALTIME, &r);
	time_t t = time(NULL);
	// time() may read a coarse clock that lags by a tick: allow a second.
	long d1 = r.tv_sec - tv.tv_sec, d2 = t - r.tv_sec;
	printf("realtime, gettimeofday and time agree: %d\n", d1 >= 0 && d1 <= 1 && d2 >= -1 && d2 <= 1);
	printf("realtime after 2020: %d\n", r.tv_sec > 1577836800);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	clock_gettime(CLOCK_BOOTTIME, &b);
	printf("cputime >= 0: %d boottime > 0: %d\n", ts(a) >= 0, ts(b) > 0);
	clock_getres(CLOCK_MONOTONIC, &r);
	printf("monotonic resolution <= 1ms: %d\n", r.tv_sec == 0 && r.tv_nsec <= 1000000);
	errno = 0;
	int e = clock_gettime((clockid_t)1234, &a);
	printf("bad clock: %d %s\n", e, errno == EINVAL ? "EINVAL" : "other");

	pid_t pid = getpid();
	printf("getpid stable: %d tid==pid: %d ppid!=pid: %d pgid/sid > 0: %d\n", pid == getpid(),
	       (pid_t)syscall(SYS_gettid) == pid, getppid() != pid, getpgrp() > 0 && getsid(0) > 0);
	printf("uid=%d euid=%d gid=%d egid=%d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
	gid_t groups[64];
	printf("getgroups count >= 0: %d\n", getgroups(64, groups) >= 0);

	struct utsname u;
	uname(&u);
	printf("uname: %s %s %s %s\n", u.sysname, u.nodename, u.release, u.machine);
	printf("uname version: %s\n", u.version);
	char host[256];
	gethostname(host, sizeof host);
	printf("hostname matches uname: %d\n", strcmp(host, u.nodename) == 0);

	static const struct {
		const char *name;
		int res;
	} lims[] = {{"NOFILE", RLIMIT_NOFILE}, {"STACK", RLIMIT_STACK}, {"CORE", RLIMIT_CORE}, {"AS", RLIMIT_AS},
		    {"DATA", RLIMIT_DATA}, {"NPROC", RLIMIT_NPROC}, {"CPU", RLIMIT_CPU}, {"FSIZE", RLIMIT_FSIZE}};
	for (unsigned i = 0; i < sizeof lims / sizeof lims[0]; i++) {
		struct rlimit rl;
		getrlimit(lims[i].res, &rl);
		printf("rlimit %-6s cur=%lld max=%lld\n", lims[i].name, (long long)rl.rlim_cur, (long long)rl.rlim_max);
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof set, &set);
	printf("affinity cpus=%d nprocs_onln=%ld\n", CPU_COUNT(&set), sysconf(_SC_NPROCESSORS_ONLN));
	printf("sched_yield=%d\n", sched_yield());

	struct sysinfo si;
	sysinfo(&si);
	printf("sysinfo: uptime>0 %d totalram>0 %d mem_unit>0 %d procs>0 %d\n", si.uptime > 0, si.totalram > 0,
	       si.mem_unit > 0, si.procs > 0);
	struct tms tm;
	clock_t c = times(&tm);
	printf("times ok: %d\n", c != (clock_t)-1);
	struct rusage ru;
	int gr = getrusage(RUSAGE_SELF, &ru);
	printf("getrusage=%d maxrss>0 %d\n", gr, ru.ru_maxrss > 0);
	unsigned char rnd[32], rnd2[32];
	ssize_t n1 = getrandom(rnd, sizeof rnd, 0), n2 = getrandom(rnd2, sizeof rnd2, GRND_NONBLOCK);
	printf("getrandom %zd %zd differ=%d\n", n1, n2, memcmp(rnd, rnd2, sizeof rnd) != 0);
	printf("umask was %03o\n", umask(022));
	printf("page size %ld clk_tck %ld\n", sysconf(_SC_PAGESIZE), sysconf(_SC_CLK_TCK));
	return 0;
}
