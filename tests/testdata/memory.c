// memory: mmap/mprotect/mremap/munmap behaviour, one mode per argv[1].
// Every fault is caught and reported as "fault(code)" so that a run that
// faults where Linux does not (or the reverse) shows in the output.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static sigjmp_buf env;
static volatile uintptr_t fault_addr;
static volatile int fault_code;
static long pg;

static void on_segv(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	fault_addr = (uintptr_t)si->si_addr;
	fault_code = si->si_code;
	siglongjmp(env, sig);
}

// probe reads (or writes) one byte and says what happened.
static const char *probe(void *p, int write) {
	static char buf[64];
	if (sigsetjmp(env, 1) == 0) {
		if (write)
			*(volatile char *)p = 0x5a;
		else
			(void)*(volatile char *)p;
		return "ok";
	}
	snprintf(buf, sizeof buf, "%s%s", fault_code == SEGV_MAPERR ? "fault(MAPERR)" : fault_code == SEGV_ACCERR ? "fault(ACCERR)" : "fault(?)",
		 fault_addr == (uintptr_t)p ? "" : "(wrong si_addr)");
	return buf;
}

static void *xmmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
	void *p = mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		printf("mmap(len=%zu, prot=%d, flags=%#x) failed: %s\n", len, prot, flags, strerror(errno));
		exit(1);
	}
	return p;
}

static uint32_t sum(const unsigned char *p, size_t n) {
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void mode_fixed(void) {
	char *p = xmmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 'a', 4 * pg);
	char *q = xmmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("MAP_FIXED at requested address: %d\n", q == p + pg);
	printf("bytes: %c %d %c %c\n", p[0], q[0], p[2 * pg], p[4 * pg - 1]);
	// MAP_FIXED_NOREPLACE over a mapping fails with EEXIST...
	errno = 0;
	void *r = mmap(p + 2 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("NOREPLACE over mapping: failed=%d errno=%s\n", r == MAP_FAILED, strerror(errno));
	// ... and succeeds in a hole, at the address.
	munmap(p + 3 * pg, pg);
	r = mmap(p + 3 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("NOREPLACE in hole: at address=%d read=%s write=%s\n", r == p + 3 * pg, probe(p + 3 * pg, 0), probe(p + 3 * pg, 1));
	errno = 0;
	r = mmap(p + 1, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("MAP_FIXED unaligned: failed=%d errno=%s\n", r == MAP_FAILED, strerror(errno));
	errno = 0;
	r = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("zero length: failed=%d errno=%s\n", r == MAP_FAILED, strerror(errno));
	errno = 0;
	r = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 12345, 0);
	printf("bad fd: failed=%d errno=%s\n", r == MAP_FAILED, strerror(errno));
}

static void mode_mprotect(void) {
	char *p = xmmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[pg] = 'x';
	mprotect(p + pg, pg, PROT_READ);
	printf("read-only: read=%s write=%s neighbours write=%s,%s\n", probe(p + pg, 0), probe(p + pg + 7, 1),
	       probe(p, 1), probe(p + 2 * pg, 1));
	mprotect(p + pg, pg, PROT_NONE);
	printf("none: read=%s\n", probe(p + pg + 100, 0));
	mprotect(p + pg, pg, PROT_READ | PROT_WRITE);
	printf("rw again: write=%s value kept=%d\n", probe(p + pg + 1, 1), p[pg] == 'x');
	errno = 0;
	int r = mprotect(p + 1, pg, PROT_READ);
	printf("unaligned mprotect=%d errno=%s\n", r, strerror(errno));
	munmap(p, 3 * pg);
	errno = 0;
	r = mprotect(p, pg, PROT_READ);
	printf("mprotect unmapped=%d errno=%s\n", r, strerror(errno));
	// Code in a page made executable runs; the same page without
	// PROT_EXEC faults (instruction fetch).
	unsigned char *code = xmmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; // mov $42,%eax; ret
	memcpy(code, ret42, sizeof ret42);
	mprotect(code, pg, PROT_READ | PROT_EXEC);
	printf("jit call returned %d\n", ((int (*)(void))code)());
	mprotect(code, pg, PROT_READ);
	if (sigsetjmp(env, 1) == 0) {
		printf("not reached %d\n", ((int (*)(void))code)());
	} else {
		printf("call into non-exec page: fault code=%d at page=%d\n", fault_code, fault_addr == (uintptr_t)code);
	}
}

static void mode_mremap(void) {
	size_t n = 4 * pg;
	unsigned char *p = xmmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 13 + 1);
	uint32_t h = sum(p, n);
	// Block the way so growing has to move.
	void *blocker = mmap(p + n, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	errno = 0;
	void *r = mremap(p, n, 64 * pg, 0);
	printf("grow without MAYMOVE blocked: failed=%d errno=%s\n", r == MAP_FAILED, strerror(errno));
	unsigned char *q = mremap(p, n, 64 * pg, MREMAP_MAYMOVE);
	printf("grow MAYMOVE: ok=%d moved=%d data kept=%d new tail zero=%d\n", q != MAP_FAILED, q != p,
	       sum(q, n) == h, q[63 * pg] == 0);
	printf("old range after move: %s\n", probe(p, 0));
	q[64 * pg - 1] = 9;
	unsigned char *s = mremap(q, 64 * pg, 2 * pg, 0);
	printf("shrink in place=%d kept=%d tail after shrink: %s\n", s == q, sum(s, 2 * pg) == sum(q, 2 * pg),
	       probe(q + 3 * pg, 0));
	// MREMAP_FIXED moves to a chosen address.
	unsigned char *dst = xmmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *f = mremap(s, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 4 * pg);
	printf("MREMAP_FIXED at target=%d byte=%d rest of target: %s\n", f == dst + 4 * pg, f[1], probe(dst, 0));
	errno = 0;
	r = mremap(p + 1, pg, 2 * pg, MREMAP_MAYMOVE);
	printf("unaligned mremap: failed=%d errno=%s\n", r == MAP_FAILED, strerror(errno));
	(void)blocker;
}

static void mode_shared_file(void) {
	int fd = open("shared.bin", O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || ftruncate(fd, 2 * pg) != 0) {
		perror("shared.bin");
		exit(1);
	}
	char *m = xmmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	strcpy(m, "written through the mapping");
	strcpy(m + pg + 10, "second page");
	char buf[64] = {0};
	pread(fd, buf, 27, 0);
	printf("read() sees: %s\n", buf);
	pwrite(fd, "WRITTEN", 7, 0);
	printf("mapping sees write(): %.27s\n", m);
	printf("msync=%d\n", msync(m, 2 * pg, MS_SYNC));
	// A private mapping of the same file: copy on write, never reaches the file.
	char *pm = xmmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("private view: %.7s\n", pm);
	memcpy(pm, "private", 7);
	memset(buf, 0, sizeof buf);
	pread(fd, buf, 7, 0);
	printf("file after private write: %s shared view: %.7s\n", buf, m);
	// Past the end of the file: SIGBUS.
	char *big = xmmap(NULL, 4 * pg, PROT_READ, MAP_SHARED, fd, 0);
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(env, 1) == 0) {
		printf("not reached %d\n", big[3 * pg]);
	} else {
		printf("beyond EOF: SIGBUS code=%d addr ok=%d\n", fault_code, fault_addr == (uintptr_t)(big + 3 * pg));
	}
	munmap(m, 2 * pg);
	munmap(pm, pg);
	munmap(big, 4 * pg);
	close(fd);
}

static void mode_shared_anon(void) {
	char *a = xmmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("shared anon zero=%d\n", a[0] == 0 && a[pg - 1] == 0);
	strcpy(a, "shared anonymous");
	printf("%s\n", a);
	// Two views of one memfd alias each other.
	int fd = syscall(SYS_memfd_create, "alias", 0);
	if (fd < 0 || ftruncate(fd, pg) != 0) {
		perror("memfd");
		exit(1);
	}
	char *v1 = xmmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *v2 = xmmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
	strcpy(v1 + 100, "seen through the other view");
	printf("views differ=%d v2: %s\n", v1 != v2, v2 + 100);
	printf("write to read-only view: %s\n", probe(v2, 1));
	munmap(a, pg);
}

static void mode_reserve(void) {
	size_t big = (size_t)16 << 30;
	char *r = xmmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	printf("16 GiB PROT_NONE reserved; first byte: %s, last byte: %s\n", probe(r, 0), probe(r + big - 1, 0));
	char *mid = r + ((size_t)8 << 30);
	printf("mprotect 1 MiB in the middle rw=%d\n", mprotect(mid, 1 << 20, PROT_READ | PROT_WRITE));
	memset(mid, 7, 1 << 20);
	printf("window sum=%08x below: %s above: %s\n", sum((unsigned char *)mid, 1 << 20), probe(mid - 1, 0), probe(mid + (1 << 20), 1));
	// Many sparse touches across the reservation as fixed mappings.
	for (int i = 0; i < 16; i++) {
		char *p = xmmap(r + ((size_t)i << 30), pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		p[0] = (char)i;
	}
	int ok = 1;
	for (int i = 0; i < 16; i++)
		ok &= r[(size_t)i << 30] == i;
	printf("16 sparse pages ok=%d\n", ok);
	int u = munmap(r, big);
	printf("munmap=%d then: %s\n", u, probe(mid, 0));
}

static void mode_munmap(void) {
	char *p = xmmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 1, 4 * pg);
	printf("munmap middle=%d\n", munmap(p + pg, 2 * pg));
	printf("first=%s second=%s third=%s fourth=%s\n", probe(p, 0), probe(p + pg, 0), probe(p + 2 * pg + 5, 1), probe(p + 3 * pg, 0));
	// Memory mapped again over the hole reads zero.
	char *q = xmmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("remapped reads zero=%d\n", q[0] == 0 && q[pg - 1] == 0);
	errno = 0;
	int r = munmap(p + 1, pg);
	printf("unaligned munmap=%d errno=%s\n", r, strerror(errno));
	printf("munmap of a hole=%d\n", munmap(p + 2 * pg, pg));
	// MADV_DONTNEED on private anonymous memory: reads zero afterwards.
	p[0] = 5;
	int a = madvise(p, pg, MADV_DONTNEED);
	printf("madvise=%d after DONTNEED=%d\n", a, p[0]);
}

static void mode_large(void) {
	// A large malloc comes from mmap; touch every page.
	size_t n = 64 << 20;
	unsigned char *p = malloc(n);
	if (!p) {
		puts("malloc failed");
		exit(1);
	}
	for (size_t i = 0; i < n; i += 4096)
		p[i] = (unsigned char)(i >> 12);
	uint32_t h = 0;
	for (size_t i = 0; i < n; i += 4096)
		h = h * 31 + p[i];
	printf("64 MiB malloc touched, hash=%08x\n", h);
	p = realloc(p, 2 * n);
	printf("realloc kept=%d\n", p[4096 * 3] == 3);
	free(p);
	// Many small allocations.
	void *v[10000];
	for (int i = 0; i < 10000; i++)
		v[i] = malloc(16 + i % 512);
	for (int i = 0; i < 10000; i += 2)
		free(v[i]);
	for (int i = 1; i < 10000; i += 2)
		free(v[i]);
	puts("10000 mallocs freed");
}

static uint32_t deep(int n, uint32_t acc) {
	volatile unsigned char frame[4096];
	for (int i = 0; i < 4096; i += 512)
		frame[i] = (unsigned char)(n + i);
	if (n == 0)
		return acc;
	return deep(n - 1, acc * 31 + frame[512]) + frame[0];
}

static void mode_deep_stack(void) {
	// 6 MiB of stack, under the usual 8 MiB limit: the stack grows on demand.
	printf("deep recursion (1536 x 4 KiB frames): %08x\n", deep(1536, 1));
	volatile char *big = __builtin_alloca(1 << 20);
	big[0] = 1;
	big[(1 << 20) - 1] = 2;
	printf("1 MiB alloca: %d\n", big[0] + big[(1 << 20) - 1]);
}

// mode_huge_noreserve maps 16 TiB MAP_NORESERVE, as sanitizers map their
// shadow: Linux gives it and only touched pages cost. elfuse may refuse it
// with ENOMEM (the KVM backend bounds the memory slots its host allocates
// whether pages are touched or not), but must never take the host down,
// and the process lives on either way.
static void mode_huge_noreserve(void) {
	size_t n = (size_t)16 << 40;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		if (errno != ENOMEM) {
			printf("16 TiB mmap: %s\n", strerror(errno));
			exit(1);
		}
		fputs("16 TiB mmap refused with ENOMEM\n", stderr);
	} else {
		p[0] = 1, p[n / 2] = 2, p[n - 1] = 3;
		if (p[0] + p[n / 2] + p[n - 1] != 6 || p[4096] != 0) {
			puts("16 TiB mapping lost a store");
			exit(1);
		}
		munmap(p, n);
	}
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	int st;
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 7) {
		puts("fork after the 16 TiB mmap failed");
		exit(1);
	}
	puts("alive after the 16 TiB mmap");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pg = sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "fixed")) mode_fixed();
	else if (!strcmp(m, "mprotect")) mode_mprotect();
	else if (!strcmp(m, "mremap")) mode_mremap();
	else if (!strcmp(m, "shared_file")) mode_shared_file();
	else if (!strcmp(m, "shared_anon")) mode_shared_anon();
	else if (!strcmp(m, "reserve")) mode_reserve();
	else if (!strcmp(m, "munmap")) mode_munmap();
	else if (!strcmp(m, "large")) mode_large();
	else if (!strcmp(m, "deep_stack")) mode_deep_stack();
	else if (!strcmp(m, "huge_noreserve")) mode_huge_noreserve();
	else {
		fprintf(stderr, "memory: unknown mode %s\n", m);
		return 2;
	}
	printf("%s done\n", m);
	return 0;
}
