// Fork after fork of the same parent, which changes its memory between
// them in every way a process can: stores, read(2) and pread(2) into its
// buffers, MADV_DONTNEED, munmap and a new mapping, mremap, mprotect to
// PROT_NONE and back, a vfork child's stores. Each child hashes the
// parent's memory as it sees it and prints the sum, then scribbles on its
// own copy before it exits. elfuse's children copy only the pages changed
// since the previous fork (kernel/mm_track.go): a change it missed shows
// as a sum that differs from native's. With "threads", a second thread
// makes the changes and forks every other time.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define APAGES 1024 // 4 MiB
#define BPAGES 64

static uint64_t hash(const unsigned char *p, size_t n, uint64_t h) {
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		h = (h ^ v) * 0x100000001b3ULL;
	}
	return h;
}

static unsigned char *a, *b, *c;
static int cpages = 4;
static int cprot = PROT_READ | PROT_WRITE;
static int counter; // in the data segment

static void child(int round) {
	uint64_t h = 0xcbf29ce484222325ULL;
	h = hash(a, APAGES * PAGE, h);
	h = hash(b, BPAGES * PAGE, h);
	if (cprot & PROT_READ)
		h = hash(c, cpages * PAGE, h);
	h ^= (uint64_t)counter << 32;
	printf("round %d: %016llx\n", round, (unsigned long long)h);
	fflush(stdout);
	// Scribble: a later child must not see these.
	memset(a + (round % APAGES) * PAGE, 0xee, PAGE);
	memset(a + ((round * 37 + 11) % APAGES) * PAGE + 100, 0xdd, 10);
	b[(round % BPAGES) * PAGE] = 0x77;
	counter = -1;
	_exit(0);
}

static sem_t go, done;
static int thread_round;

static void fork_and_wait(int round) {
	pid_t p = fork();
	if (p < 0)
		exit(3);
	if (p == 0)
		child(round);
	int st;
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		exit(4);
}

// worker changes the memory for each round main gives it, and forks on
// odd rounds.
static void *worker(void *arg) {
	(void)arg;
	for (;;) {
		sem_wait(&go);
		int round = thread_round;
		if (round < 0)
			return NULL;
		memset(a + (round * 11 % APAGES) * PAGE + 64, round + 1, 3 * PAGE);
		b[(round * 7 % BPAGES) * PAGE + 5] = (unsigned char)round;
		counter += 2;
		if (round & 1)
			fork_and_wait(round);
		sem_post(&done);
	}
}

static int threads(void) {
	pthread_t t;
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 5;
	for (int round = 0; round < 24; round++) {
		thread_round = round;
		sem_post(&go);
		sem_wait(&done);
		a[(round * 13 % APAGES) * PAGE] ^= 0x5a; // the main thread's own change
		if (!(round & 1))
			fork_and_wait(round);
	}
	thread_round = -1;
	sem_post(&go);
	pthread_join(t, NULL);
	printf("counter %d\n", counter);
	return 0;
}

int main(int argc, char **argv) {
	a = malloc(APAGES * PAGE);
	b = mmap(NULL, BPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c = mmap(NULL, cpages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!a || b == MAP_FAILED || c == MAP_FAILED)
		return 1;
	for (int i = 0; i < APAGES * PAGE; i++)
		a[i] = (unsigned char)(i * 7);
	memset(b, 0x11, BPAGES * PAGE);
	memset(c, 0x22, cpages * PAGE);
	if (argc > 1 && strcmp(argv[1], "threads") == 0)
		return threads();
	char path[] = "/tmp/fork_incremental.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	unlink(path);
	static unsigned char buf[3 * PAGE];
	for (int i = 0; i < (int)sizeof buf; i++)
		buf[i] = (unsigned char)(i * 13 + 5);
	if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
		return 1;
	int pfd[2];
	if (pipe(pfd) < 0)
		return 1;

	for (int round = 0; round < 40; round++) {
		switch (round % 10) {
		case 0: // a store here and there
			a[(round * 97 % APAGES) * PAGE + round] = (unsigned char)round;
			counter++;
			break;
		case 1: // read(2) into the heap from a pipe
			write(pfd[1], "pipe data that lands in a", 25);
			read(pfd[0], a + (round * 31 % APAGES) * PAGE + 7, 25);
			break;
		case 2: // pread(2) of a file across page boundaries
			pread(fd, a + (round * 13 % (APAGES - 4)) * PAGE + 2000, 2 * PAGE + 100, round);
			break;
		case 3: // pages dropped: they read zero after
			madvise(b + (round % BPAGES) * PAGE, 3 * PAGE, MADV_DONTNEED);
			counter += b[(round % BPAGES) * PAGE + PAGE]; // read back: zero
			break;
		case 4: // unmapped and mapped again: zero
			munmap(c, cpages * PAGE);
			c = mmap(c, cpages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			c[round] = 0x33;
			break;
		case 5: { // moved elsewhere and grown
			void *to = mmap(NULL, (cpages + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			unsigned char *n = mremap(c, cpages * PAGE, (cpages + 2) * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			if (to == MAP_FAILED || n == MAP_FAILED)
				return 2;
			c = n;
			cpages += 2;
			c[PAGE + 1] = (unsigned char)round;
			break;
		}
		case 6: // written, then hidden
			c[2 * PAGE] = (unsigned char)(round + 1);
			mprotect(c, cpages * PAGE, PROT_NONE);
			cprot = PROT_NONE;
			break;
		case 7: // shown again, and written once more
			mprotect(c, cpages * PAGE, PROT_READ | PROT_WRITE);
			cprot = PROT_READ | PROT_WRITE;
			c[3 * PAGE + 5] = (unsigned char)(round + 2);
			break;
		case 8: { // a vfork child writes the parent's memory
			pid_t v = vfork();
			if (v == 0) {
				a[(round * 5 % APAGES) * PAGE + 9] = 0x99;
				b[PAGE * 2 + 3] = 0x98;
				_exit(0);
			}
			waitpid(v, NULL, 0);
			break;
		}
		case 9: // a whole page rewritten, and the stack
			memset(a + (round * 3 % APAGES) * PAGE, round, PAGE);
			break;
		}
		pid_t p = fork();
		if (p < 0)
			return 3;
		if (p == 0)
			child(round);
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 4;
	}
	printf("counter %d\n", counter);
	return 0;
}
