// auxv: what the initial stack hands a static program: argc, argv, envp and
// the auxiliary vector. Values that differ between runs print as relations.
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;
extern const ElfW(Ehdr) __ehdr_start;
extern void _start(void);

static uint64_t fnv(const char *s) {
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int main(int argc, char **argv) {
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++) {
		if (strlen(argv[i]) > 40)
			printf("argv[%d] len=%zu fnv=%016llx\n", i, strlen(argv[i]), (unsigned long long)fnv(argv[i]));
		else
			printf("argv[%d]=\"%s\"\n", i, argv[i]);
	}
	printf("argv[argc] is NULL: %d\n", argv[argc] == NULL);
	int ne = 0;
	uint64_t eh = 0;
	for (char **e = environ; *e; e++, ne++)
		eh ^= fnv(*e);
	printf("envc=%d env fnv=%016llx envp follows argv: %d\n", ne, (unsigned long long)eh, environ == argv + argc + 1);

	printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
	printf("AT_PHENT=%lu AT_PHNUM=%lu (ELF says %u, %u)\n", getauxval(AT_PHENT), getauxval(AT_PHNUM),
	       __ehdr_start.e_phentsize, __ehdr_start.e_phnum);
	printf("AT_PHDR is the program headers: %d\n",
	       getauxval(AT_PHDR) == (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff);
	printf("AT_ENTRY is _start: %d\n", getauxval(AT_ENTRY) == (uintptr_t)_start);
	printf("AT_BASE=%lu AT_FLAGS=%lu\n", getauxval(AT_BASE), getauxval(AT_FLAGS));
	printf("AT_UID=%lu AT_EUID=%lu AT_GID=%lu AT_EGID=%lu AT_SECURE=%lu\n", getauxval(AT_UID), getauxval(AT_EUID),
	       getauxval(AT_GID), getauxval(AT_EGID), getauxval(AT_SECURE));
	printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
	printf("AT_HWCAP=%#lx AT_HWCAP2=%#lx\n", getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
	const char *plat = (const char *)getauxval(AT_PLATFORM);
	printf("AT_PLATFORM=%s\n", plat ? plat : "(none)");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	printf("AT_EXECFN is argv[0]: %d\n", execfn && strcmp(execfn, argv[0]) == 0);
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	int nz = 0;
	for (int i = 0; rnd && i < 16; i++)
		nz += rnd[i] != 0;
	printf("AT_RANDOM present: %d, some nonzero bytes: %d\n", rnd != NULL, nz > 0);
	// The initial stack pointer is 16-byte aligned at _start, so argv is
	// 8 mod 16 (argc sits below it).
	printf("argv alignment mod 16: %lu\n", (unsigned long)((uintptr_t)argv % 16));
	return 0;
}
