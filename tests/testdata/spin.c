// spin: a CPU-bound loop with no system call for several seconds, longer
// than `elfuse --timeout 1`; the watchdog must neither kill nor disturb it.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 3000000000ull;
	uint64_t x = 88172645463325252ull, acc = 0;
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc += x >> 60;
	}
	printf("spin %llu iterations: %016llx %llu\n", (unsigned long long)n, (unsigned long long)x, (unsigned long long)acc);
	return 0;
}
