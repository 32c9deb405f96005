// exec_fpreset: execve starts the new image with the initial FPU state
// (MXCSR 0x1f80, x87 control word 0x37f, zeroed SSE registers), whatever
// the old image left; exec'd twice so that the second reset (elfuse sets
// a cached initial image) is checked too.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xmmintrin.h>

static void dirty(void) {
	_mm_setcsr(0x7f80 | _MM_ROUND_TOWARD_ZERO);
	unsigned short cw = 0x27f;
	__asm__ volatile("fldcw %0" : : "m"(cw));
	__asm__ volatile("movq %0, %%xmm7" : : "r"(0x1234567887654321ull) : "xmm7");
}

static void show(int gen) {
	unsigned short cw;
	unsigned long long x7;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("movq %%xmm7, %0" : "=r"(x7));
	printf("gen %d: mxcsr=%#x fcw=%#x xmm7=%#llx\n", gen, _mm_getcsr(), cw, x7);
}

int main(int argc, char **argv) {
	int gen = argc > 1 ? atoi(argv[1]) : 0;
	if (gen > 0)
		show(gen);
	if (gen >= 2)
		return 0;
	dirty();
	char next[8];
	snprintf(next, sizeof next, "%d", gen + 1);
	fflush(stdout);
	execl("/proc/self/exe", argv[0], next, (char *)0);
	return 1;
}
