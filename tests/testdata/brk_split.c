// brk_split: the program break moves with byte precision but memory comes
// and goes a page at a time, also when the brk area has been split into
// several mappings by mprotect (seed edge case: "brk page granularity inside
// a split block"). Offsets are printed relative to the initial break.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int code;
static uintptr_t base;
static char outbuf[1 << 16];

static void on_segv(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	code = si->si_code;
	siglongjmp(env, sig);
}

static uintptr_t xbrk(uintptr_t want) { return (uintptr_t)syscall(SYS_brk, want); }

static const char *probe(uintptr_t a, int write) {
	if (sigsetjmp(env, 1) == 0) {
		if (write)
			*(volatile char *)a = 0x11;
		else
			(void)*(volatile char *)a;
		return "ok";
	}
	return code == SEGV_ACCERR ? "ACCERR" : "MAPERR";
}

static void show(const char *what, uintptr_t cur) {
	printf("%-34s brk=base+%#lx\n", what, (unsigned long)(cur - base));
}

int main(void) {
	// No malloc from here on: stdio gets a static buffer.
	setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
	long pg = sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);

	uintptr_t start = xbrk(0);
	// Start on a page boundary so the offsets below mean the same thing
	// in every run, whatever the randomised initial break.
	base = (start + pg - 1) & ~(uintptr_t)(pg - 1);
	if (xbrk(base) != base) {
		puts("cannot align brk");
		return 1;
	}
	show("aligned start", xbrk(0));
	show("grow by 100 bytes", xbrk(base + 100));
	printf("  byte 99=%s byte 100=%s last byte of page=%s next page=%s\n", probe(base + 99, 1),
	       probe(base + 100, 1), probe(base + pg - 1, 1), probe(base + pg, 0));
	show("grow to 3 pages + 1", xbrk(base + 3 * pg + 1));
	memset((void *)base, 0xab, 3 * pg + 1);
	printf("  page 3 byte 0=%s page 3 byte 1=%s page 4=%s\n", probe(base + 3 * pg, 1), probe(base + 3 * pg + 1, 1),
	       probe(base + 4 * pg, 0));

	// Split the brk block: the middle page read-only.
	printf("mprotect page 1 read-only=%d\n", mprotect((void *)(base + pg), pg, PROT_READ));
	printf("  page 0 write=%s page 1 write=%s page 1 read=%s page 2 write=%s\n", probe(base, 1),
	       probe(base + pg + 8, 1), probe(base + pg + 8, 0), probe(base + 2 * pg, 1));
	show("grow split block to 6 pages", xbrk(base + 6 * pg));
	printf("  new page 5 write=%s page 1 still read-only=%s\n", probe(base + 5 * pg, 1), probe(base + pg, 1));

	// Shrink inside a page: nothing is unmapped, data stays.
	*(volatile char *)(base + 5 * pg + 10) = 42;
	show("shrink to 5 pages + 20", xbrk(base + 5 * pg + 20));
	printf("  byte at +10 kept=%d byte at +100=%s\n", *(volatile char *)(base + 5 * pg + 10) == 42,
	       probe(base + 5 * pg + 100, 0));
	// Shrink across the split: pages go away whatever their protection.
	show("shrink to half a page", xbrk(base + pg / 2));
	printf("  page 0=%s page 1=%s page 2=%s page 5=%s\n", probe(base, 0), probe(base + pg, 0), probe(base + 2 * pg, 0),
	       probe(base + 5 * pg, 0));
	// Grow again: fresh pages are zero and writable, the old data is gone.
	show("grow back to 4 pages", xbrk(base + 4 * pg));
	volatile unsigned char *b = (void *)base;
	int kept = b[0], zero1 = b[pg + 8] == 0, zero2 = b[2 * pg] == 0;
	printf("  page 0 kept=%#x page 1 zero=%d page 2 zero=%d", kept, zero1, zero2);
	printf(" page 1 write=%s\n", probe(base + pg + 8, 1));
	// The break cannot go below its start, nor into an existing mapping.
	uintptr_t r = xbrk(1);
	show("below the start (refused)", r);
	(void)start;
	void *block = mmap((void *)(base + 16 * pg), pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (block == MAP_FAILED) {
		puts("cannot place blocker");
		return 1;
	}
	show("into a mapping (refused)", xbrk(base + 20 * pg));
	show("touching the mapping (refused)", xbrk(base + 16 * pg));
	show("one guard page short of it", xbrk(base + 15 * pg));
	printf("  page 14=%s page 15=%s\n", probe(base + 14 * pg, 1), probe(base + 15 * pg, 0));
	fflush(stdout);
	return 0;
}
