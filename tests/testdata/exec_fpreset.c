// exec_fpreset: execve starts the new image with the initial FPU state
// (MXCSR 0x1f80, x87 control word 0x37f, zeroed SSE registers), whatever
// the old image left. The new image is a tiny static ELF written here,
// whose entry stores the state and writes it to a pipe, so no C start-up
// code touches it first (glibc's picks its string functions by CPUID, and
// those leave different values in XMM7). Checked after one exec and after
// a second one from an image that dirtied the state again (elfuse sets a
// cached initial image from the second on).
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tiny_elf.h"
#include <xmmintrin.h>

// The entry: at 0x600000 store the low and high halves of XMM7, MXCSR and
// the x87 control word, write those 24 bytes to stdout, exit(0).
static const unsigned char entry[] = {
	0xb8, 0x00, 0x00, 0x60, 0x00, // mov $0x600000,%eax
	0xf3, 0x0f, 0x7f, 0x38, // movdqu %xmm7,(%rax)
	0x0f, 0xae, 0x58, 0x10, // stmxcsr 0x10(%rax)
	0xd9, 0x78, 0x14, // fnstcw 0x14(%rax)
	0x48, 0x89, 0xc6, 0xb8, 0x01, 0x00, 0x00, 0x00, // mov %rax,%rsi; mov $1,%eax
	0xbf, 0x01, 0x00, 0x00, 0x00, 0xba, 0x18, 0x00, 0x00, 0x00, 0x0f, 0x05, // write(1, .., 24)
	0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05, // exit(0)
};

// dirty_and_exec leaves a non-initial FPU state and execs path with argv.
static void dirty_and_exec(const char *path, char *const argv[]) {
	_mm_setcsr(0x7f80 | _MM_ROUND_TOWARD_ZERO);
	unsigned short cw = 0x27f;
	__asm__ volatile("fldcw %0" : : "m"(cw));
	__asm__ volatile("movq %0, %%xmm7" : : "r"(0x1234567887654321ull) : "xmm7");
	__asm__ volatile("pinsrq $1, %0, %%xmm7" : : "r"(0x1122334455667788ull) : "xmm7");
	execv(path, argv);
	_exit(127);
}

// run execs the tiny image (through this program again when twice) and
// prints the state it found.
static void run(const char *self, const char *image, int twice) {
	int p[2];
	if (pipe(p) != 0)
		exit(1);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if (twice) {
			char *argv[] = {"exec_fpreset", "again", (char *)image, NULL};
			dirty_and_exec(self, argv);
		}
		char *argv[] = {"entry", NULL};
		dirty_and_exec(image, argv);
	}
	close(p[1]);
	unsigned char st[24];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof st && (r = read(p[0], st + n, sizeof st - n)) > 0)
		n += r;
	close(p[0]);
	int ws;
	waitpid(c, &ws, 0);
	if (n != sizeof st) {
		printf("%s: got %zu bytes, status %#x\n", twice ? "twice" : "once", n, ws);
		return;
	}
	unsigned long long lo, hi;
	unsigned int mxcsr;
	unsigned short fcw;
	memcpy(&lo, st, 8);
	memcpy(&hi, st + 8, 8);
	memcpy(&mxcsr, st + 16, 4);
	memcpy(&fcw, st + 20, 2);
	printf("%s: mxcsr=%#x fcw=%#x xmm7=%#llx:%#llx exit=%d\n", twice ? "twice" : "once", mxcsr, fcw, hi, lo,
		WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
}

int main(int argc, char **argv) {
	if (argc == 3 && !strcmp(argv[1], "again")) {
		char *next[] = {"entry", NULL};
		dirty_and_exec(argv[2], next);
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	const char *image = "fpreset-entry";
	write_tiny_elf(image, entry, sizeof entry);
	run(self, image, 0);
	run(self, image, 1);
	unlink(image);
	return 0;
}
