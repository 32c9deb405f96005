// exec_regs: a new image starts with every general register and XMM0
// zeroed (RSP aside), whatever the old image left in them, and an execve
// that fails leaves the caller's registers as they were. The new image is
// a tiny static ELF written here, whose entry stores the registers and
// writes them to stdout, so no C start-up code touches them first.
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tiny_elf.h"

// The entry: store RAX..R15 (RSP's slot holds RSP, skipped when
// printed) and XMM0 at 0x600000, write them, exit(0).
static const unsigned char entry[] = {
	0x48, 0xa3, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, // movabs %rax,0x600000
	0xb8, 0x00, 0x00, 0x60, 0x00, // mov $0x600000,%eax
	0x48, 0x89, 0x58, 0x08, 0x48, 0x89, 0x48, 0x10, 0x48, 0x89, 0x50, 0x18, // rbx rcx rdx
	0x48, 0x89, 0x70, 0x20, 0x48, 0x89, 0x78, 0x28, 0x48, 0x89, 0x68, 0x30, // rsi rdi rbp
	0x4c, 0x89, 0x40, 0x38, 0x4c, 0x89, 0x48, 0x40, 0x4c, 0x89, 0x50, 0x48, // r8 r9 r10
	0x4c, 0x89, 0x58, 0x50, 0x4c, 0x89, 0x60, 0x58, 0x4c, 0x89, 0x68, 0x60, // r11 r12 r13
	0x4c, 0x89, 0x70, 0x68, 0x4c, 0x89, 0x78, 0x70, // r14 r15
	0x66, 0x0f, 0xd6, 0x40, 0x78, // movq %xmm0,0x78(%rax)
	0x48, 0x89, 0xc6, 0xb8, 0x01, 0x00, 0x00, 0x00, // mov %rax,%rsi; mov $1,%eax
	0xbf, 0x01, 0x00, 0x00, 0x00, 0xba, 0x80, 0x00, 0x00, 0x00, 0x0f, 0x05, // write(1, .., 128)
	0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05, // exit(0)
};

#define GARBAGE 0x5a5a5a5a5a5a5a5aull

// exec_regs_kept gets the callee-saved registers after a failed
// dirty_execve.
unsigned long long exec_regs_kept[6];

// execve with garbage in every register the syscall does not take (and
// XMM0).
static long dirty_execve(const char *path, char **argv, char **envp) {
	long ret;
	__asm__ volatile(
		"push %%rbx; push %%rbp; push %%r12; push %%r13; push %%r14; push %%r15\n\t"
		"movabs $0x5a5a5a5a5a5a5a5a, %%rbx\n\t"
		"mov %%rbx, %%rbp; mov %%rbx, %%r12; mov %%rbx, %%r13; mov %%rbx, %%r14; mov %%rbx, %%r15\n\t"
		"mov %%rbx, %%r8; mov %%rbx, %%r9; mov %%rbx, %%r10; movq %%rbx, %%xmm0\n\t"
		"syscall\n\t"
		"lea exec_regs_kept(%%rip), %%rcx\n\t"
		"mov %%rbx, 0(%%rcx); mov %%rbp, 8(%%rcx); mov %%r12, 16(%%rcx)\n\t"
		"mov %%r13, 24(%%rcx); mov %%r14, 32(%%rcx); mov %%r15, 40(%%rcx)\n\t"
		"pop %%r15; pop %%r14; pop %%r13; pop %%r12; pop %%rbp; pop %%rbx\n\t"
		: "=a"(ret)
		: "a"(59L), "D"(path), "S"(argv), "d"(envp)
		: "rcx", "r8", "r9", "r10", "r11", "xmm0", "memory");
	return ret;
}

int main(void) {
	char path[] = "/tmp/exec_regs_XXXXXX";
	int tfd = mkstemp(path);
	if (tfd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(tfd);
	write_tiny_elf(path, entry, sizeof entry);
	char *argv[] = {path, NULL}, *envp[] = {NULL};

	long r = dirty_execve("/nonexistent/exec_regs", argv, envp);
	int intact = 1;
	for (int i = 0; i < 6; i++)
		intact &= exec_regs_kept[i] == GARBAGE;
	printf("failed execve: %ld, callee-saved registers intact: %d\n", r, intact);
	fflush(stdout);

	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		dirty_execve(path, argv, envp);
		_exit(127);
	}
	close(p[1]);
	unsigned long long regs[16];
	size_t got = 0;
	while (got < sizeof regs) {
		ssize_t n = read(p[0], (char *)regs + got, sizeof regs - got);
		if (n <= 0)
			break;
		got += n;
	}
	int st;
	waitpid(pid, &st, 0);
	unlink(path);
	printf("read %zu bytes, child status %#x\n", got, st);
	static const char *names[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8",
		"r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0"};
	for (int i = 0; i < 16 && got == sizeof regs; i++)
		printf("%s=%#llx\n", names[i], regs[i]);
	return 0;
}
