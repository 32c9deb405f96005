// badptr: system calls given pointers the process cannot access must fail
// with EFAULT (or, where Linux says so, another errno), never crash the
// process or the host. Raw syscall(2) is used so that libc cannot touch the
// pointers first.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e) {
	static char buf[16];
	switch (e) {
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case EPERM: return "EPERM";
	case ERANGE: return "ERANGE";
	}
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

static void report(const char *what, long r) {
	printf("%-40s -> %ld %s\n", what, r, r < 0 ? errname(errno) : "");
}

#define TRY(what, call)              \
	do {                         \
		errno = 0;           \
		long r_ = (call);    \
		report(what, r_);    \
	} while (0)

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	long pg = sysconf(_SC_PAGESIZE);
	// A page that was mapped and is not anymore, and a PROT_NONE page.
	char *gone = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, pg);
	char *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct {
		const char *name;
		uintptr_t p;
	} bad[] = {
		{"null", 0},
		{"low", 1},
		{"null page end", 0xff8},
		{"unmapped page", (uintptr_t)gone},
		{"PROT_NONE page", (uintptr_t)none},
		{"64 TiB (elfuse address limit)", (uintptr_t)1 << 46},
		{"64 TiB + 1 MiB", ((uintptr_t)1 << 46) + (1 << 20)},
		{"top of user space", 0x7ffffffff000},
		{"non-canonical", 0x800000000000},
		{"kernel half", 0xffff880000000000},
		{"last byte", UINTPTR_MAX},
	};
	int fd = open("input.txt", O_RDONLY);
	int wfd = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char line[160];
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *p = (void *)bad[i].p;
		printf("== %s\n", bad[i].name);
		snprintf(line, sizeof line, "read into it");
		TRY(line, syscall(SYS_read, fd, p, 10));
		TRY("pread64 into it", syscall(SYS_pread64, fd, p, 10, 0));
		TRY("write from it", syscall(SYS_write, wfd, p, 10));
		TRY("write 0 bytes from it", syscall(SYS_write, wfd, p, 0));
		TRY("open it as a path", syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
		TRY("stat it as a path", syscall(SYS_newfstatat, AT_FDCWD, p, line, 0));
		TRY("stat into it", syscall(SYS_newfstatat, AT_FDCWD, "input.txt", p, 0));
		TRY("fstat into it", syscall(SYS_fstat, fd, p));
		TRY("uname into it", syscall(SYS_uname, p));
		TRY("clock_gettime into it", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p));
		TRY("gettimeofday into it", syscall(SYS_gettimeofday, p, NULL));
		TRY("getcwd into it", syscall(SYS_getcwd, p, 100));
		TRY("pipe2 into it", syscall(SYS_pipe2, p, 0));
		TRY("nanosleep from it", syscall(SYS_nanosleep, p, NULL));
		TRY("rt_sigaction from it", syscall(SYS_rt_sigaction, SIGUSR1, p, NULL, 8));
		TRY("rt_sigprocmask from it", syscall(SYS_rt_sigprocmask, SIG_BLOCK, p, NULL, 8));
		TRY("readv with iovec at it", syscall(SYS_readv, fd, p, 1));
		struct iovec iov = {.iov_base = p, .iov_len = 8};
		TRY("writev with buffer at it", syscall(SYS_writev, wfd, &iov, 1));
		TRY("getrandom into it", syscall(SYS_getrandom, p, 8, 0));
		TRY("sysinfo into it", syscall(SYS_sysinfo, p));
		TRY("getrlimit into it", syscall(SYS_getrlimit, RLIMIT_NOFILE, p));
		TRY("sched_getaffinity into it", syscall(SYS_sched_getaffinity, 0, 128, p));
		TRY("clock_getres into it", syscall(SYS_clock_getres, CLOCK_REALTIME, p));
	}
	printf("== read-only page\n");
	TRY("read into read-only page", syscall(SYS_read, fd, ro, 10));
	TRY("write from read-only page", syscall(SYS_write, wfd, ro, 10));
	TRY("uname into read-only page", syscall(SYS_uname, ro));
	// A path that runs off the end of a mapping without a terminator.
	char *edge = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(edge + pg, pg);
	memset(edge, 'a', pg);
	TRY("open unterminated path at page end", syscall(SYS_openat, AT_FDCWD, edge, O_RDONLY));
	edge[pg - 1] = 0;
	TRY("open long path (ENAMETOOLONG)", syscall(SYS_openat, AT_FDCWD, edge, O_RDONLY));
	// A read that straddles into an unmapped page: partial or EFAULT.
	TRY("read straddling into unmapped", syscall(SYS_read, fd, edge + pg - 4, 10));
	printf("first 4 bytes landed: %.4s\n", edge + pg - 4);
	printf("still alive\n");
	return 0;
}
