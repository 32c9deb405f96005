// sched_other: scheduling, priority and I/O-priority calls aimed at another
// process (a child) and at a pid that does not exist, as renice, taskset
// -p, chrt -p and ionice -p make them.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void res(const char *what, long r) {
	printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

// statnice prints fields 18 and 19 (priority, nice) of /proc/PID/stat.
static void statnice(const char *who, pid_t pid) {
	char path[64], b[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(b, sizeof b, f)) {
		printf("%s stat: %s\n", who, strerror(errno));
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	char *s = strrchr(b, ')');
	int field = 2;
	long prio = 0, nice = 0;
	for (s = strtok(s + 1, " "); s; s = strtok(NULL, " ")) {
		field++;
		if (field == 18)
			prio = atol(s);
		if (field == 19)
			nice = atol(s);
	}
	printf("%s stat: priority %ld nice %ld\n", who, prio, nice);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int p[2], q[2];
	pipe(p);
	pipe(q);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		write(p[1], "x", 1);
		char x;
		read(q[0], &x, 1); // until told to end
		_exit(0);
	}
	char b;
	read(p[0], &b, 1);
	errno = 0;
	int pr = getpriority(PRIO_PROCESS, c);
	printf("child nice %d (%s)\n", pr, errno ? strerror(errno) : "ok");
	res("setpriority child 7", setpriority(PRIO_PROCESS, c, 7));
	errno = 0;
	pr = getpriority(PRIO_PROCESS, c);
	printf("child nice now %d, mine %d\n", pr, getpriority(PRIO_PROCESS, 0));
	statnice("child", c);
	printf("child policy %d\n", sched_getscheduler(c));
	struct sched_param sp = {0};
	res("sched_getparam child", sched_getparam(c, &sp));
	cpu_set_t mine, theirs;
	sched_getaffinity(0, sizeof mine, &mine);
	res("sched_getaffinity child", sched_getaffinity(c, sizeof theirs, &theirs));
	printf("same CPU count: %s\n", CPU_COUNT(&mine) == CPU_COUNT(&theirs) ? "yes" : "no");
	long io = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, c);
	long myio = syscall(SYS_ioprio_get, 1, 0);
	printf("child ioprio same as mine: %s\n", io == myio ? "yes" : "no");
	write(q[1], "x", 1);
	waitpid(c, NULL, 0);
	pid_t gone = c;
	errno = 0;
	getpriority(PRIO_PROCESS, gone);
	printf("reaped child: %s\n", strerror(errno));
	res("sched_getscheduler reaped", sched_getscheduler(gone));
	// Children inherit the nice value and the affinity, also on a host
	// process whose last guest process had set others (nice 7 above).
	setpriority(PRIO_PROCESS, 0, 4);
	statnice("own", getpid());
	for (int i = 0; i < 3; i++) {
		pid_t k = fork();
		if (k == 0) {
			cpu_set_t s;
			sched_getaffinity(0, sizeof s, &s);
			printf("child %d: nice %d, same CPU count %s\n", i, getpriority(PRIO_PROCESS, 0),
			       CPU_COUNT(&s) == CPU_COUNT(&mine) ? "yes" : "no");
			_exit(0);
		}
		waitpid(k, NULL, 0);
	}
	return 0;
}
