// compute: a pure CPU loop with no system call; prints its own duration in
// milliseconds (and a checksum, so the loop cannot be optimised away).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 500000000ull;
	uint64_t x = 88172645463325252ull, acc = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc += x >> 60;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	fprintf(stderr, "checksum %llx\n", (unsigned long long)(x ^ acc));
	printf("%.2f\n", ms);
	return 0;
}
