// simd: libc string functions over many sizes and alignments. glibc picks
// SSE2/AVX2/EVEX/AVX-512 variants from CPUID at start-up, so this exercises
// the vector units and the CPUID the guest sees. Prints checksums only.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 1100
static unsigned char src[MAXN + 128], dst[MAXN + 128], cmp[MAXN + 128];

static uint64_t h = 1469598103934665603ull;
static void mix(uint64_t v) { h = (h ^ v) * 1099511628211ull; }

static void fill(unsigned char *p, size_t n, unsigned seed) {
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(1 + (seed >> 16) % 250); // never 0
	}
}

static int sizes[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 127, 128, 129,
		      255, 256, 257, 511, 512, 513, 1000, 1024, 1025};

int main(void) {
	const int ns = sizeof sizes / sizeof sizes[0];
	struct {
		const char *name;
		uint64_t sum;
	} res[12] = {{"strlen"}, {"memcpy"}, {"memmove"}, {"memset"}, {"strchr"}, {"strrchr"},
		     {"memcmp"}, {"strcmp"}, {"memchr"}, {"strncpy"}, {"strcpy"}, {"strnlen"}};
	for (int si = 0; si < ns; si++) {
		int n = sizes[si];
		for (int a = 0; a < 64; a++) {
			for (int b = 0; b < 64; b += 13) {
				fill(src, sizeof src, n * 131 + a);
				unsigned char *s = src + a, *d = dst + b;
				s[n] = 0;
				h = 1469598103934665603ull;
				mix(strlen((char *)s));
				res[0].sum += h;
				memset(dst, 0, sizeof dst);
				memcpy(d, s, n);
				h = 0;
				for (int i = 0; i < n + 8; i++)
					mix(d[i]);
				res[1].sum += h;
				memmove(s + 3, s, n / 2);
				h = 0;
				for (int i = 0; i < n; i++)
					mix(s[i]);
				res[2].sum += h;
				fill(src, sizeof src, n * 131 + a);
				s[n] = 0;
				memset(d, a + b, n);
				h = 0;
				for (int i = 0; i < n + 4; i++)
					mix(d[i]);
				res[3].sum += h;
				int c = n ? s[n / 2] : 'x';
				char *p = strchr((char *)s, c);
				res[4].sum += p ? (uint64_t)(p - (char *)s) + 1 : 0;
				p = strrchr((char *)s, c);
				res[5].sum += p ? (uint64_t)(p - (char *)s) + 1 : 0;
				memcpy(cmp + b, s, n);
				if (n)
					cmp[b + n - 1 - (a % n)] ^= 1;
				int r = memcmp(cmp + b, s, n);
				res[6].sum += (uint64_t)(r > 0) * 2 + (r < 0) + a;
				cmp[b + n] = 0;
				r = strcmp((char *)cmp + b, (char *)s);
				res[7].sum += (uint64_t)(r > 0) * 2 + (r < 0) + a;
				void *m = memchr(s, c, n);
				res[8].sum += m ? (uint64_t)((unsigned char *)m - s) + 7 : 3;
				memset(dst, 0x55, sizeof dst);
				strncpy((char *)d, (char *)s, n / 2 + 20);
				h = 0;
				for (int i = 0; i < n + 30 && b + i < (int)sizeof dst; i++)
					mix(d[i]);
				res[9].sum += h;
				strcpy((char *)d, (char *)s);
				res[10].sum += d[n] == 0 && memcmp(d, s, n) == 0;
				res[11].sum += strnlen((char *)s, n / 3 + 1);
			}
		}
	}
	for (int i = 0; i < 12; i++)
		printf("%-8s %016llx\n", res[i].name, (unsigned long long)res[i].sum);
	// What the program sees of the CPU must be what the host has.
	__builtin_cpu_init();
	printf("cpu: sse4.2=%d avx=%d avx2=%d avx512f=%d avx512bw=%d avx512vl=%d bmi2=%d\n",
	       !!__builtin_cpu_supports("sse4.2"), !!__builtin_cpu_supports("avx"), !!__builtin_cpu_supports("avx2"),
	       !!__builtin_cpu_supports("avx512f"), !!__builtin_cpu_supports("avx512bw"),
	       !!__builtin_cpu_supports("avx512vl"), !!__builtin_cpu_supports("bmi2"));
	// A big copy through the vector paths (and the non-temporal ones).
	size_t big = 8 << 20;
	unsigned char *x = malloc(big), *y = malloc(big);
	fill(x, big, 7);
	memcpy(y, x, big);
	memmove(y + 1, y, big - 1);
	printf("big copy ok=%d memcmp=%d\n", memcmp(x, y + 1, big - 1) == 0, memcmp(x, y, big) != 0);
	return 0;
}
