// sysloop: cost of one system call, timed inside the guest.
//   sysloop getppid N   N raw getppid(2) calls
//   sysloop enosys N    N calls of an unassigned number (ENOSYS): the
//                       cheapest path through a syscall table, used as the
//                       exit floor measured in the same run
// Prints nanoseconds per call.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline long raw0(long nr) {
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: sysloop getppid|enosys N\n");
		return 2;
	}
	long nr = strcmp(argv[1], "getppid") == 0 ? 110 : 1023;
	long n = atol(argv[2]);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		raw0(nr);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f\n", ns / n);
	return 0;
}
