/* stub_race MODE SECRET DIR: one thread maps files of DIR again and again
 * while another stores, over and over, into the ptrace backend's stub
 * (hvf/ptrace/stub.go), where guest code could reach it:
 *
 *   strings  the host path SECRET where the stub keeps the paths its
 *            injected openat calls use (batchStrings). Natively nothing is
 *            mapped there and the first store faults; under elfuse it must
 *            fault too, or an openat injected for the mapping thread could
 *            open SECRET, a host file outside the sysroot.
 *   results  small numbers (descriptors) where the batch gadget leaves its
 *            results (batchResults), which the guest can write: a mapping
 *            may then show another file the process may map, never SECRET.
 *
 * Prints what the writer met (strings mode) and what the mappings held. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NFILES 24 /* more than the stub's descriptor cache holds (16) */
#define ROUNDS 20
#define STUB_STRINGS 0x500000004000UL
#define STUB_RESULTS 0x500000005000UL

static const char *secret;
static int results_mode;
static sigjmp_buf writer_jump;
static volatile int stop;
static volatile int refused;
static volatile long stores;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(writer_jump, 1);
}

static void *writer(void *arg)
{
	(void)arg;
	if (sigsetjmp(writer_jump, 1)) {
		refused = 1;
		return NULL;
	}
	if (results_mode) {
		volatile long *r = (volatile long *)STUB_RESULTS;
		while (!stop) {
			for (long i = 0; i < 8; i++)
				r[i] = 3 + (stores + i) % 20;
			stores++;
		}
		return NULL;
	}
	volatile char *p = (volatile char *)STUB_STRINGS;
	size_t n = strlen(secret) + 1;
	while (!stop) {
		for (size_t i = 0; i < n; i++)
			p[i] = secret[i];
		stores++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: stub_race strings|results SECRET DIR\n");
		return 2;
	}
	results_mode = strcmp(argv[1], "results") == 0;
	secret = argv[2];
	argv++;
	char path[4096];
	for (int i = 0; i < NFILES; i++) {
		snprintf(path, sizeof path, "%s/f%02d", argv[2], i);
		FILE *f = fopen(path, "w");
		if (!f || fprintf(f, "FILE%02d\n", i) < 0 || fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	struct sigaction sa = {.sa_handler = on_segv};
	sigaction(SIGSEGV, &sa, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, writer, NULL) != 0)
		return 1;
	/* Give the writer time to start (or to fault). */
	for (int i = 0; i < 100 && !refused && stores == 0; i++)
		usleep(1000);
	int bad = 0, leaked = 0, failed = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < NFILES; i++) {
			snprintf(path, sizeof path, "%s/f%02d", argv[2], i);
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				failed++;
				continue;
			}
			char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
			close(fd);
			if (m == MAP_FAILED) {
				failed++;
				continue;
			}
			char want[16];
			snprintf(want, sizeof want, "FILE%02d\n", i);
			if (memcmp(m, want, 7) != 0) {
				bad++;
				if (memcmp(m, "SECRET", 6) == 0)
					leaked++;
			}
			munmap(m, 4096);
		}
	}
	stop = 1;
	pthread_join(t, NULL);
	if (results_mode) {
		printf("mappings: %d, secret %d\n", ROUNDS * NFILES, leaked);
		return 0;
	}
	printf("writer: %s\n", refused ? "refused" : "stored");
	printf("mappings: %d, wrong %d, secret %d, failed %d\n", ROUNDS * NFILES, bad, leaked, failed);
	return 0;
}
