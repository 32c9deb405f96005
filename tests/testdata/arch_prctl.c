// arch_prctl: the FS and GS bases as arch_prctl(2) sets and reports them,
// what a load through them reads, bases set by WRFSBASE where the CPU
// and kernel allow it, per-thread bases, and the errors.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

// asm/prctl.h, which musl's headers lack.
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

static long ap(int code, unsigned long arg) { return syscall(SYS_arch_prctl, code, arg); }

// raw_ap is arch_prctl without libc, for the stretches where FS is not
// glibc's thread pointer.
static long raw_ap(long code, unsigned long arg) {
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(SYS_arch_prctl), "D"(code), "S"(arg) : "rcx", "r11", "memory");
	return ret;
}

static unsigned long block[4] = {0x1111, 0x2222, 0x3333, 0x4444};

static void *thread_fs(void *main_fs) {
	unsigned long fs = 0;
	ap(ARCH_GET_FS, (unsigned long)&fs);
	return (void *)(long)(fs != 0 && fs != (unsigned long)main_fs);
}

int main(void) {
	unsigned long fs = 0, self = 0, gs = 0, got = 0;
	long r = ap(ARCH_GET_FS, (unsigned long)&fs);
	printf("get fs: %ld\n", r);
	__asm__ volatile("mov %%fs:0, %0" : "=r"(self));
	printf("fs base is the thread pointer: %d\n", fs == self && fs != 0);

	// A base of our own, and back, with nothing between that uses TLS.
	unsigned long read1 = 0, back = 0;
	long r1 = raw_ap(ARCH_SET_FS, (unsigned long)block);
	__asm__ volatile("mov %%fs:8, %0" : "=r"(read1));
	long r2 = raw_ap(ARCH_GET_FS, (unsigned long)&got);
	long r3 = raw_ap(ARCH_SET_FS, fs);
	__asm__ volatile("mov %%fs:0, %0" : "=r"(back));
	printf("set fs %ld, read %#lx, get %ld same %d, restore %ld ok %d\n", r1, read1, r2,
		got == (unsigned long)block, r3, back == self);

	printf("set gs %ld\n", ap(ARCH_SET_GS, (unsigned long)&block[2]));
	__asm__ volatile("mov %%gs:0, %0" : "=r"(got));
	printf("read through gs %#lx\n", got);
	r = ap(ARCH_GET_GS, (unsigned long)&gs);
	printf("get gs %ld same %d\n", r, gs == (unsigned long)&block[2]);

	r = ap(ARCH_SET_FS, 0xffff800000000000ul);
	printf("set fs to a kernel address: %ld errno %d\n", r, errno);
	r = ap(0x1fff, 0);
	printf("unknown code: %ld errno %d\n", r, errno);
	r = ap(ARCH_GET_FS, 8);
	printf("get fs to a bad pointer: %ld errno %d\n", r, errno);

	// WRFSBASE, where user space may use it, changes the base without a
	// syscall; ARCH_GET_FS must see it.
	int fsgs = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	int seen = 1;
	if (fsgs) {
		unsigned long now = 0;
		__asm__ volatile("wrfsbase %0" : : "r"((unsigned long)block) : "memory");
		r = raw_ap(ARCH_GET_FS, (unsigned long)&now);
		__asm__ volatile("wrfsbase %0" : : "r"(fs) : "memory");
		seen = r == 0 && now == (unsigned long)block;
	}
	printf("wrfsbase seen by ARCH_GET_FS (or no FSGSBASE): %d\n", seen);

	// Last: under hvf/ptrace a second thread makes every exit whole.
	pthread_t th;
	void *res;
	pthread_create(&th, NULL, thread_fs, (void *)fs);
	pthread_join(th, &res);
	printf("a thread has a base of its own: %ld\n", (long)res);

	return 0;
}
