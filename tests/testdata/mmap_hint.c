// mmap_hint: a non-fixed mmap hint in a free low window (below the usual
// mmap base, like the 0x400000-style windows box64 and static x86
// toolchains reserve) comes back at the hint (seed edge case).
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
	static const uintptr_t hints[] = {0x10000000, 0x20000000, 0x40000000, 0x100000000, 0x7000000000};
	long pg = sysconf(_SC_PAGESIZE);
	for (unsigned i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		size_t len = (i + 1) * 16 * pg;
		char *p = mmap((void *)hints[i], len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			printf("hint %#lx: mmap failed: %s\n", (unsigned long)hints[i], strerror(errno));
			continue;
		}
		memset(p, 0x3c, len);
		printf("hint %#lx len %#zx: at hint=%d\n", (unsigned long)hints[i], len, (uintptr_t)p == hints[i]);
	}
	// An occupied hint is not an error: the kernel picks another place.
	char *again = mmap((void *)hints[0], pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("occupied hint: ok=%d at hint=%d\n", again != MAP_FAILED, (uintptr_t)again == hints[0]);
	// An unaligned hint is rounded down to the page, not refused.
	char *un = mmap((void *)(0x30000000 + 123), pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("unaligned hint: at rounded hint=%d\n", (uintptr_t)un == 0x30000000);
	// A hint inside the low window but partly overlapping a mapping.
	char *ov = mmap((void *)(0x20000000 - 4 * pg), 8 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("overlapping hint: ok=%d at hint=%d\n", ov != MAP_FAILED, (uintptr_t)ov == 0x20000000 - 4 * (uintptr_t)pg);
	// A hint beyond the user address space is ignored.
	char *hi = mmap((void *)0xffff800000000000, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("kernel-half hint: ok=%d below 47 bits=%d\n", hi != MAP_FAILED, (uintptr_t)hi < ((uintptr_t)1 << 47));
	return 0;
}
