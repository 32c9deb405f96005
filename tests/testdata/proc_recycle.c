// proc_recycle: fork children one after another, as a shell or make runs
// them; under elfuse each child's host process and VM are recycled for the
// next one, which must find nothing of the last:
//   proc_recycle MODE
//   fresh    every child maps anonymous memory at the same fixed addresses
//            (in different GiB of the address space, of different sizes),
//            finds it zero, fills it with its own pattern and exits
//   threads  every child starts 1-5 threads over a private mapping it
//            filled; the exit statuses carry the sums
#include "proc_common.h"

#include <pthread.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static const unsigned long addrs[] = {0x20000000UL, 0x1c0000000UL, 0x100000000000UL};

static int fresh_child(int i) {
	int bad = 0;
	for (int k = 0; k < 3; k++) {
		if ((i + k) % 3 == 2)
			continue; // not every child maps every place
		size_t len = (size_t)(1 + (i * 7 + k) % 9) << 16;
		unsigned char *p = mmap((void *)addrs[k], len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED || p != (void *)addrs[k])
			return 90 + k;
		for (size_t o = 0; o < len; o += 512)
			if (p[o] != 0)
				bad++;
		memset(p, 0xa0 + i, len);
	}
	return bad ? 1 : 0;
}

static int mode_fresh(void) {
	enum { N = 60 };
	int zero = 0;
	for (int i = 0; i < N; i++) {
		pid_t p = fork();
		if (p < 0)
			fail("fork %d", i);
		if (p == 0)
			_exit(fresh_child(i));
		int st;
		if (waitpid(p, &st, 0) != p)
			fail("waitpid %d: %s", i, errname(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			printf("child %d: %s\n", i, describe(st));
		else
			zero++;
	}
	printf("%d of %d children found their memory zero\n", zero, N);
	return 0;
}

static void *work(void *a) {
	long n = (long)a;
	volatile long s = 0;
	for (long i = 0; i < 20000 * n; i++)
		s += i;
	return (void *)(s & 0xff);
}

static int threads_child(int round) {
	int nt = 1 + round % 5;
	size_t len = (size_t)(round % 7 + 1) << 20;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 99;
	memset(m, round, len);
	pthread_t t[5];
	for (int i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(long)(i + 1)) != 0)
			return 98;
	long s = 0;
	for (int i = 0; i < nt; i++) {
		void *r;
		pthread_join(t[i], &r);
		s += (long)r;
	}
	return (int)((s + m[len - 1]) & 0x7f);
}

static int mode_threads(void) {
	for (int round = 0; round < 30; round++) {
		pid_t p = fork();
		if (p < 0)
			fail("fork %d", round);
		if (p == 0)
			_exit(threads_child(round));
		int st;
		if (waitpid(p, &st, 0) != p)
			fail("waitpid %d: %s", round, errname(errno));
		printf("%d: %s\n", round, describe(st));
	}
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: proc_recycle fresh|threads\n");
		return 2;
	}
	watchdog();
	if (strcmp(argv[1], "fresh") == 0)
		return mode_fresh();
	if (strcmp(argv[1], "threads") == 0)
		return mode_threads();
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
