/* mlock, mlock2, munlock, mlockall, munlockall: results and errno for
 * mapped, partly mapped, unaligned, empty and wrapping ranges and bad
 * flags, and that locked memory reads and writes as before. Runs as the
 * same user natively and under elfuse, so the same limits apply. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "result.h"


int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(0, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 7, 8 * pg);
	result("mlock", mlock(p, 4 * pg));
	result("mlock unaligned", mlock(p + 100, 10));
	result("mlock empty", mlock(p, 0));
	p[3 * pg] = 9;
	printf("after lock: %d %d\n", p[0], p[3 * pg]);
	result("munlock", munlock(p, 4 * pg));
	munmap(p + 6 * pg, pg);
	result("mlock over a hole", mlock(p, 8 * pg));
	result("mlock unmapped", mlock((void *)0x10000, pg));
	result("mlock wraps", syscall(SYS_mlock, ~0UL - pg + 1, 2 * pg));
	result("mlock2 onfault", syscall(SYS_mlock2, p, 2 * pg, 1));
	result("mlock2 bad flags", syscall(SYS_mlock2, p, pg, 2));
	result("munlock hole", munlock(p, 8 * pg));
	result("mlockall 0", mlockall(0));
	result("mlockall onfault only", mlockall(MCL_ONFAULT));
	result("mlockall bad", mlockall(8));
	result("mlockall current", mlockall(MCL_CURRENT));
	char *q = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q[0] = 5;
	printf("after mlockall: %d %d\n", p[0], q[0]);
	result("munlockall", munlockall());
	result("mlockall current|future", mlockall(MCL_CURRENT | MCL_FUTURE));
	char *r = mmap(0, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r[0] = 6;
	printf("future mapping: %d\n", r[0]);
	result("munlockall again", munlockall());
	return 0;
}
