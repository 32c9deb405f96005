// filemap: private file mappings, read-only and made writable, compared
// with the file they map. Run natively and under elfuse; the output and the
// files left behind must match.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static long pg;
static sigjmp_buf env;
static volatile int fault_sig, fault_code;

static void on_fault(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	fault_sig = sig;
	fault_code = si->si_code;
	siglongjmp(env, 1);
}

static void *xmmap(void *a, size_t n, int prot, int flags, int fd, off_t off) {
	void *p = mmap(a, n, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

// sum is a position-dependent checksum of n bytes.
static unsigned long sum(const unsigned char *p, size_t n) {
	unsigned long s = 0;
	for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
	return s;
}

static int make_file(const char *name, size_t n) {
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(name);
		exit(1);
	}
	unsigned char *b = malloc(n);
	for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 7 + i / 4096);
	if (write(fd, b, n) != (ssize_t)n) {
		perror("write");
		exit(1);
	}
	free(b);
	return fd;
}

static unsigned long file_sum(int fd, size_t n) {
	unsigned char *b = calloc(1, n);
	ssize_t got = pread(fd, b, n, 0);
	unsigned long s = sum(b, n);
	free(b);
	return got == (ssize_t)n ? s : 0;
}

// Read-only private mapping, then writable by mprotect, written, compared
// with the file; fork in between.
static void mode_mprotect_write(void) {
	size_t n = 3 * pg + 100;
	int fd = make_file("data.bin", n);
	unsigned long fsum = file_sum(fd, n);
	unsigned char *m = xmmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("mapping equals file: %d\n", sum(m, n) == fsum);
	printf("tail of last page zero: %d\n", m[n] == 0 && m[4 * pg - 1] == 0);

	// The kernel reads the mapping (write from it) and refuses to write it.
	int out = open("copy.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	printf("write from mapping: %zd\n", write(out, m + pg, pg));
	close(out);
	int z = open("/dev/zero", O_RDONLY);
	errno = 0;
	ssize_t r = read(z, m, 16);
	printf("read into read-only mapping: %zd errno=%s\n", r, errno == EFAULT ? "EFAULT" : strerror(errno));

	// An unwritten private page follows the file (Linux shares the page
	// cache until the first write).
	pwrite(fd, "FILE", 4, 2 * pg);
	printf("unwritten private page sees file write: %.4s\n", (char *)m + 2 * pg);

	// Text relocations: make the middle pages writable and write them.
	if (mprotect(m + pg, 2 * pg, PROT_READ | PROT_WRITE) != 0) {
		perror("mprotect");
		exit(1);
	}
	memcpy(m + pg + 10, "private write", 13);
	m[3 * pg - 1] = 'Z';
	printf("mapping after write: %.13s %c\n", (char *)m + pg + 10, m[3 * pg - 1]);
	printf("file unchanged by private write: %d\n", file_sum(fd, n) != sum(m, n));
	char buf[16] = {0};
	pread(fd, buf, 13, pg + 10);
	printf("file at the written place: %d\n", memcmp(buf, "private write", 13) != 0);

	// Now written, the page no longer follows the file.
	pwrite(fd, "LATE", 4, 2 * pg);
	printf("written page after file write: %.4s\n", (char *)m + 2 * pg);

	// fork: the child sees the parent's private view, writes its own.
	unsigned long before = sum(m, 4 * pg);
	pid_t pid = fork();
	if (pid == 0) {
		int same = sum(m, 4 * pg) == before;
		mprotect(m, pg, PROT_READ | PROT_WRITE);
		m[0] = 'c';
		m[pg + 10] = 'C';
		_exit(same ? 0 : 3);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child saw parent's view: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("parent unchanged by child: %d\n", sum(m, 4 * pg) == before);

	// Read-only again: contents stay.
	mprotect(m, 4 * pg, PROT_READ);
	printf("after mprotect read-only: %.13s\n", (char *)m + pg + 10);
	munmap(m, 4 * pg);
	close(z);
	close(fd);
}

// Pages wholly past the end of the file fault with SIGBUS.
static void mode_past_eof(void) {
	int fd = make_file("short.bin", pg + 100);
	unsigned char *m = xmmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	printf("eof page: %d %d\n", m[pg + 99] == (unsigned char)((pg + 99) * 7 + 1), m[pg + 100]);
	if (sigsetjmp(env, 1) == 0) {
		printf("not reached %d\n", m[2 * pg]);
	} else {
		printf("past EOF: signal %s code=%d\n", fault_sig == SIGBUS ? "SIGBUS" : "other", fault_code);
	}
	// The kernel does not read past EOF either.
	int out = open("past.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	errno = 0;
	ssize_t r = write(out, m + 2 * pg, 16);
	printf("write from past EOF: %zd errno=%s\n", r, errno == EFAULT ? "EFAULT" : strerror(errno));
	close(out);
	munmap(m, 3 * pg);
	close(fd);
}

// The same file mapped twice privately, one copy written: the other still
// reads the file.
static void mode_two_views(void) {
	int fd = make_file("views.bin", 2 * pg);
	unsigned char *a = xmmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	unsigned char *b = xmmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	memset(b, 'b', pg);
	printf("a still reads the file: %d\n", sum(a, 2 * pg) == file_sum(fd, 2 * pg));
	printf("b written: %c %d\n", b[0], b[pg] == a[pg]);
	// mremap of a read-only private mapping keeps its data.
	unsigned char *c = mremap(a, 2 * pg, 3 * pg, MREMAP_MAYMOVE);
	if (c == MAP_FAILED) {
		perror("mremap");
		exit(1);
	}
	printf("moved mapping reads the file: %d\n", sum(c, 2 * pg) == file_sum(fd, 2 * pg));
	munmap(b, 2 * pg);
	munmap(c, 3 * pg);
	close(fd);
}

int main(int argc, char **argv) {
	pg = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "mprotect_write")) mode_mprotect_write();
	else if (!strcmp(m, "past_eof")) mode_past_eof();
	else if (!strcmp(m, "two_views")) mode_two_views();
	else {
		fprintf(stderr, "filemap: unknown mode %s\n", m);
		return 2;
	}
	printf("%s done\n", m);
	return 0;
}
