/* Threads, milestone 3: execve from the main thread and from another
 * thread while others run (the others end first; the new image has one
 * thread whose id is the process id), and fork from a threaded process
 * (the child has one thread). */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char self[4096];
static char pidarg[32];

static int task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void *spin(void *arg)
{
	volatile long x = 0;
	for (;;)
		x++;
	return arg;
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void *execer(void *arg)
{
	(void)arg;
	execl(self, self, "after", pidarg, (char *)NULL);
	perror("execl");
	return NULL;
}

static void *forker(void *arg)
{
	pid_t c = fork();
	if (c == 0) {
		printf("child of a thread: threads %d, tid is pid %d\n", task_count(),
		       (pid_t)syscall(SYS_gettid) == getpid());
		fflush(stdout);
		_exit(3);
	}
	int st;
	waitpid(c, &st, 0);
	printf("the thread reaped its child: status %d\n", WEXITSTATUS(st));
	return arg;
}

static void *twice(void *arg) { return (void *)(2 * (long)arg); }

static volatile long counter;
static void *counting(void *arg)
{
	for (;;)
		counter++;
	return arg;
}

/* Two counters far apart in memory, with populated memory in between,
 * updated in order: at any instant first - second is 0 or 1. */
struct pair {
	volatile long first;
	char gap[16 << 20];
	volatile long second;
};
static struct pair *pair;

static void *pair_counting(void *arg)
{
	for (;;) {
		pair->first++;
		pair->second++;
	}
	return arg;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "exec_main";
	pthread_t th[3];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return 1;
	self[n] = 0;
	snprintf(pidarg, sizeof pidarg, "%d", getpid());
	if (strcmp(mode, "after") == 0) {
		printf("after exec: same pid %d, tid is pid %d, threads %d\n", atoi(argv[2]) == getpid(),
		       (pid_t)syscall(SYS_gettid) == getpid(), task_count());
		/* The new image makes threads of its own. */
		void *r;
		pthread_create(&th[0], NULL, twice, (void *)21L);
		pthread_join(th[0], &r);
		printf("new image thread returned %ld\n", (long)r);
		return 7;
	}
	if (strcmp(mode, "exec_main") == 0) {
		pthread_create(&th[0], NULL, spin, NULL);
		pthread_create(&th[1], NULL, sleeper, NULL);
		usleep(50000);
		execl(self, self, "after", pidarg, (char *)NULL);
		return 2;
	}
	if (strcmp(mode, "exec_thread") == 0) {
		pthread_create(&th[0], NULL, sleeper, NULL);
		pthread_create(&th[1], NULL, spin, NULL);
		pthread_create(&th[2], NULL, execer, NULL);
		for (;;)
			pause();
	}
	if (strcmp(mode, "fork") == 0) {
		pthread_create(&th[0], NULL, counting, NULL);
		pthread_create(&th[1], NULL, sleeper, NULL);
		usleep(20000);
		pid_t c = fork();
		if (c == 0) {
			printf("child threads %d, tid is pid %d\n", task_count(),
			       (pid_t)syscall(SYS_gettid) == getpid());
			fflush(stdout);
			_exit(4);
		}
		int st;
		waitpid(c, &st, 0);
		printf("parent threads %d, child status %d\n", task_count(), WEXITSTATUS(st));
		return 0;
	}
	if (strcmp(mode, "fork_from_thread") == 0) {
		pthread_create(&th[1], NULL, sleeper, NULL);
		pthread_create(&th[0], NULL, forker, NULL);
		pthread_join(th[0], NULL);
		return 0;
	}
	if (strcmp(mode, "fork_snapshot") == 0) {
		/* The child's memory is one instant of the parent's. */
		pair = malloc(sizeof *pair);
		memset(pair->gap, 1, sizeof pair->gap);
		pthread_create(&th[0], NULL, pair_counting, NULL);
		int ok = 1;
		for (int i = 0; i < 5; i++) {
			usleep(10000);
			pid_t c = fork();
			if (c == 0) {
				long d = pair->first - pair->second;
				_exit(d == 0 || d == 1 ? 0 : 1);
			}
			int st;
			waitpid(c, &st, 0);
			ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
		}
		printf("child snapshots consistent: %d\n", ok);
		return 0;
	}
	return 99;
}
