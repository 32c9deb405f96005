/* Threads, milestone 1: create and join, a shared array, distinct thread
 * ids, the exit of a non-main thread, exit_group from a thread. Output is
 * deterministic: sums and counts, never interleavings. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NT 4
#define N 1000

static long shared[NT][N];
static pid_t tids[NT];

static void *work(void *arg)
{
	long k = (long)arg;
	tids[k] = syscall(SYS_gettid);
	for (long i = 0; i < N; i++)
		shared[k][i] = i * (k + 1);
	return (void *)(k * 100);
}

static void *quit(void *arg)
{
	(void)arg;
	pthread_exit((void *)7);
}

static void *group_exit(void *arg)
{
	(void)arg;
	fflush(stdout);
	exit(3); /* exit_group from a thread ends the process */
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

/* Memory operations from several threads at once: each maps, writes,
 * protects and unmaps its own regions. */
static void *mapper(void *arg)
{
	long s = 0;
	for (int i = 0; i < 50; i++) {
		size_t n = (1 << 20) + i * 4096;
		char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return (void *)-1L;
		memset(p, (int)(long)arg, n);
		s += p[n - 1];
		mprotect(p, 4096, PROT_READ);
		s += p[0];
		munmap(p, n);
		char *q = malloc(100000 + i);
		q[0] = 1;
		s += q[0];
		free(q);
	}
	return (void *)s;
}

static void *crash(void *arg)
{
	usleep(20000);
	*(volatile int *)arg = 1; /* a fault in one thread kills the process */
	return arg;
}

/* Threads blocked in host waits of every kind, for exit_group to end. */
static int pfd[2];

static void *in_waitpid(void *arg)
{
	int st;
	waitpid(-1, &st, 0);
	return arg;
}

static void *in_poll(void *arg)
{
	struct pollfd p = {pfd[0], POLLIN, 0};
	poll(&p, 1, -1);
	return arg;
}

static void *in_select(void *arg)
{
	fd_set s;
	FD_ZERO(&s);
	FD_SET(pfd[0], &s);
	select(pfd[0] + 1, &s, NULL, NULL, NULL);
	return arg;
}

static void *in_read(void *arg)
{
	char c;
	read(pfd[0], &c, 1);
	return arg;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "basic";
	pthread_t th[NT];
	if (strcmp(mode, "basic") == 0) {
		for (long k = 0; k < NT; k++)
			if (pthread_create(&th[k], NULL, work, (void *)k) != 0)
				return 10;
		long rets = 0;
		for (int k = 0; k < NT; k++) {
			void *r;
			if (pthread_join(th[k], &r) != 0)
				return 11;
			rets += (long)r;
		}
		long sum = 0;
		for (int k = 0; k < NT; k++)
			for (int i = 0; i < N; i++)
				sum += shared[k][i];
		pid_t me = getpid();
		int distinct = 1;
		for (int k = 0; k < NT; k++) {
			if (tids[k] == me || tids[k] <= 0)
				distinct = 0;
			for (int j = 0; j < k; j++)
				if (tids[j] == tids[k])
					distinct = 0;
		}
		printf("sum=%ld rets=%ld distinct_tids=%d main_tid_is_pid=%d\n", sum, rets, distinct,
		       (pid_t)syscall(SYS_gettid) == me);
		/* Thread ids are not reused while their threads live, and
		 * each later thread still starts. */
		for (int round = 0; round < 20; round++) {
			pthread_create(&th[0], NULL, work, (void *)0);
			pthread_join(th[0], NULL);
		}
		printf("rounds done\n");
		return 0;
	}
	if (strcmp(mode, "thread_exit") == 0) {
		void *r;
		pthread_create(&th[0], NULL, quit, NULL);
		pthread_join(th[0], &r);
		printf("pthread_exit value %ld\n", (long)r);
		return 0;
	}
	if (strcmp(mode, "exit_group") == 0) {
		pthread_create(&th[0], NULL, sleeper, NULL);
		pthread_create(&th[1], NULL, group_exit, NULL);
		for (;;)
			pause();
	}
	if (strcmp(mode, "main_exits_first") == 0) {
		/* The main thread ends with pthread_exit; the process lives
		 * on until its last thread ends, whose status it takes. */
		pthread_create(&th[0], NULL, work, (void *)1);
		printf("main leaving\n");
		fflush(stdout);
		pthread_exit(NULL);
	}
	if (strcmp(mode, "detached") == 0) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		for (long k = 0; k < NT; k++)
			pthread_create(&th[k], &a, work, (void *)k);
		usleep(200000);
		printf("detached done\n");
		return 5;
	}
	if (strcmp(mode, "segv_in_thread") == 0) {
		pthread_create(&th[0], NULL, sleeper, NULL);
		pthread_create(&th[1], NULL, crash, NULL);
		for (;;)
			pause();
	}
	if (strcmp(mode, "exit_while_blocked") == 0) {
		if (pipe(pfd) != 0)
			return 1;
		pid_t c = fork();
		if (c == 0) {
			sleep(30);
			_exit(0);
		}
		pthread_create(&th[0], NULL, in_waitpid, NULL);
		pthread_create(&th[1], NULL, in_poll, NULL);
		pthread_create(&th[2], NULL, in_select, NULL);
		pthread_create(&th[3], NULL, in_read, NULL);
		usleep(100000);
		printf("exiting with four blocked threads\n");
		fflush(stdout);
		kill(c, SIGKILL);
		exit(4);
	}
	if (strcmp(mode, "mmap_in_threads") == 0) {
		long total = 0;
		for (long k = 0; k < NT; k++)
			pthread_create(&th[k], NULL, mapper, (void *)(k + 1));
		for (int k = 0; k < NT; k++) {
			void *r;
			pthread_join(th[k], &r);
			total += (long)r;
		}
		printf("mapped in threads: %ld\n", total);
		return 0;
	}
	return 99;
}
