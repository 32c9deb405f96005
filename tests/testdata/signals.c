// signals: one signal behaviour per mode (argv[1]); prints what a handler
// saw so native and elfuse runs compare exactly. Addresses are printed as
// relations ("addr=page+0x10") since they differ between runs.
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf env;
// Pointers the compiler cannot see through, so faulting accesses are kept.
static char *volatile null_page = 0;
static volatile uintptr_t expect_addr;
static volatile int depth, max_depth, order_idx;
static char order[64];

static void note(char c) { order[order_idx++] = c; }

static void on_fault(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	printf("handler: sig=%d (%s) code=%d addr_ok=%d\n", sig, strsignal(sig), si->si_code,
	       (uintptr_t)si->si_addr == expect_addr);
	siglongjmp(env, sig);
}

static void catch(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0) {
		perror("sigaction");
		exit(1);
	}
}

extern char ud2_insn[], int3_next[];

static void trap_handler(int sig, siginfo_t *si, void *uc) {
	ucontext_t *u = uc;
	uintptr_t rip = (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
	if (sig == SIGILL) {
		printf("SIGILL code=%d addr_is_ud2=%d rip_is_ud2=%d\n", si->si_code,
		       (uintptr_t)si->si_addr == (uintptr_t)ud2_insn, rip == (uintptr_t)ud2_insn);
		u->uc_mcontext.gregs[REG_RIP] += 2; // resume after ud2
	} else {
		printf("SIGTRAP code=%d rip_after_int3=%d\n", si->si_code, rip == (uintptr_t)int3_next);
	}
}

static void mode_segv_null(void) {
	catch(SIGSEGV, on_fault, 0);
	expect_addr = 0;
	if (sigsetjmp(env, 1) == 0) {
		*(volatile int *)null_page = 1;
		puts("not reached");
	}
	puts("recovered from null write");
	expect_addr = 0x18;
	if (sigsetjmp(env, 1) == 0) {
		(void)*(volatile long *)(null_page + 0x18);
		puts("not reached");
	}
	puts("recovered from null read");
}

static void mode_segv_prot(void) {
	char *p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	catch(SIGSEGV, on_fault, 0);
	expect_addr = (uintptr_t)p + 4100;
	if (sigsetjmp(env, 1) == 0) {
		p[4100] = 1;
		puts("not reached");
	}
	printf("read after fault: %d\n", p[4100]);
	// The mask is restored by siglongjmp(env, 1): a second fault works.
	munmap(p, 8192);
	expect_addr = (uintptr_t)p + 10;
	if (sigsetjmp(env, 1) == 0) {
		(void)*(volatile char *)(p + 10);
		puts("not reached");
	}
	puts("recovered twice");
}

static void mode_fpe(void) {
	catch(SIGFPE, on_fault, 0);
	volatile int zero = 0, x = 7;
	extern char div_insn[];
	expect_addr = (uintptr_t)div_insn;
	if (sigsetjmp(env, 1) == 0) {
		int q;
		__asm__ volatile("mov %1, %%eax\n\tcltd\n"
				 ".globl div_insn\ndiv_insn:\n\tidivl %2\n\tmov %%eax, %0"
				 : "=r"(q) : "r"(x), "r"(zero) : "eax", "edx");
		printf("not reached %d\n", q);
	}
	puts("recovered from divide error");
}

static void mode_ill_trap(void) {
	catch(SIGILL, trap_handler, 0);
	catch(SIGTRAP, trap_handler, 0);
	__asm__ volatile(".globl ud2_insn\nud2_insn:\n\tud2\n");
	puts("continued after ud2");
	__asm__ volatile("int3\n.globl int3_next\nint3_next:\n");
	puts("continued after int3");
}

static void on_user(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	printf("got %s code=%d pid_is_self=%d uid=%d\n", strsignal(sig), si->si_code,
	       si->si_pid == getpid(), (int)si->si_uid);
}

static void mode_raise_kill(void) {
	catch(SIGUSR1, on_user, 0);
	catch(SIGUSR2, on_user, 0);
	raise(SIGUSR1);
	kill(getpid(), SIGUSR2);
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
	union sigval v = {.sival_int = 99};
	sigqueue(getpid(), SIGUSR2, v);
	printf("kill(self, 0)=%d\n", kill(getpid(), 0));
	errno = 0;
	int r = kill(getpid(), 99);
	printf("kill(self, 99)=%d errno=%s\n", r, strerror(errno));
}

static void on_order(int sig) { note(sig == SIGUSR1 ? '1' : sig == SIGUSR2 ? '2' : '?'); }

static void mode_mask_pending(void) {
	signal(SIGUSR1, on_order);
	signal(SIGUSR2, on_order);
	sigset_t set, old, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR2);
	raise(SIGUSR1);
	raise(SIGUSR1); // standard signals do not queue
	note('m');
	sigpending(&pend);
	printf("pending usr1=%d usr2=%d term=%d\n", sigismember(&pend, SIGUSR1),
	       sigismember(&pend, SIGUSR2), sigismember(&pend, SIGTERM));
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	printf("blocked usr1=%d\n", sigismember(&cur, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	note('u');
	order[order_idx] = 0;
	printf("order=%s\n", order);
	sigpending(&pend);
	printf("pending after unblock usr1=%d\n", sigismember(&pend, SIGUSR1));
	// SIGKILL and SIGSTOP cannot be blocked or caught.
	sigfillset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	printf("kill blockable=%d stop blockable=%d\n", sigismember(&cur, SIGKILL), sigismember(&cur, SIGSTOP));
	struct sigaction sa = {.sa_handler = on_order};
	errno = 0;
	int r = sigaction(SIGKILL, &sa, NULL);
	printf("catch SIGKILL=%d errno=%s\n", r, strerror(errno));
}

static char altstack[65536];

static void on_alt(int sig, siginfo_t *si, void *uc) {
	(void)si;
	(void)uc;
	char local;
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("sig %d on altstack=%d ss_onstack=%d\n", sig,
	       &local >= altstack && &local < altstack + sizeof altstack, (cur.ss_flags & SS_ONSTACK) != 0);
}

static void mode_altstack(void) {
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		exit(1);
	}
	catch(SIGUSR1, on_alt, SA_ONSTACK);
	catch(SIGUSR2, on_alt, 0);
	raise(SIGUSR1);
	raise(SIGUSR2);
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("after: flags=%d size_ok=%d\n", cur.ss_flags, cur.ss_size == sizeof altstack);
	ss.ss_size = 100; // below MINSIGSTKSZ
	errno = 0;
	int r = sigaltstack(&ss, NULL);
	printf("tiny altstack=%d errno=%s\n", r, strerror(errno));
	// A stack overflow is handled only on the alternate stack.
	ss.ss_size = sizeof altstack;
	sigaltstack(&ss, NULL);
}

static void on_reset(int sig) {
	printf("first %s handled\n", strsignal(sig));
}

static void mode_resethand(void) {
	struct sigaction sa, q;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_reset;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &q);
	printf("disposition reset=%d\n", q.sa_handler == SIG_DFL);
	fflush(stdout);
	raise(SIGUSR1); // default action: terminate
	puts("not reached");
}

static void on_nest(int sig) {
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	printf("enter %d depth %d\n", sig, depth);
	if (sig == SIGUSR1)
		raise(SIGUSR2); // not blocked: runs nested
	if (sig == SIGUSR2 && depth < 3)
		raise(SIGUSR2); // SA_NODEFER: recursion
	printf("leave %d depth %d\n", sig, depth);
	depth--;
}

static void mode_nested(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_nest;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR1);
	printf("max depth %d\n", max_depth);
	// sa_mask blocks SIGUSR2 during SIGUSR1's handler: it runs after.
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	max_depth = 0;
	raise(SIGUSR1);
	printf("max depth with sa_mask %d\n", max_depth);
}

__attribute__((target("avx2"))) static void on_avx(int sig) {
	(void)sig;
	// Clobber every ymm register the interrupted code may hold.
	__asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
			 "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm8\n\t"
			 "vmovdqa %%ymm0, %%ymm9\n\tvmovdqa %%ymm0, %%ymm15\n\t" ::
				 : "xmm0", "xmm1", "xmm8", "xmm9", "xmm15");
	volatile double d = 1.0;
	for (int i = 0; i < 10; i++)
		d *= 1.5;
	printf("avx handler ran (%.3f)\n", d);
}

__attribute__((target("avx2"))) static void mode_avx(void) {
	if (!__builtin_cpu_supports("avx2")) {
		puts("no avx2 on this cpu");
		return;
	}
	signal(SIGUSR1, on_avx);
	uint32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out8[8], out15[8];
	long pid = getpid();
	// Load ymm8/ymm15, enter the kernel with a raw syscall (the signal is
	// delivered on its way out), then read them back.
	__asm__ volatile("vmovdqu (%[in]), %%ymm8\n\t"
			 "vpaddd %%ymm8, %%ymm8, %%ymm15\n\t"
			 "mov $62, %%eax\n\t" // kill
			 "mov %[pid], %%rdi\n\t"
			 "mov $10, %%esi\n\t" // SIGUSR1
			 "syscall\n\t"
			 "vmovdqu %%ymm8, (%[o8])\n\t"
			 "vmovdqu %%ymm15, (%[o15])\n\t"
			 "vzeroupper\n\t"
			 :
			 : [in] "r"(in), [o8] "r"(out8), [o15] "r"(out15), [pid] "r"(pid)
			 : "rax", "rdi", "rsi", "rcx", "r11", "memory", "xmm8", "xmm15");
	int ok = 1;
	for (int i = 0; i < 8; i++)
		ok &= out8[i] == in[i] && out15[i] == 2 * in[i];
	printf("ymm8/ymm15 preserved across handler: %d\n", ok);
	// Floating point state of the interrupted code survives too.
	volatile double x = 3.25;
	raise(SIGUSR1);
	printf("x87/sse value %.2f\n", x * 2);
}

static void mode_sigign(void) {
	signal(SIGUSR1, SIG_IGN);
	raise(SIGUSR1);
	signal(SIGCHLD, SIG_DFL); // default: ignore
	raise(SIGCHLD);
	signal(SIGWINCH, SIG_DFL);
	raise(SIGWINCH);
	puts("ignored signals did nothing");
}

static volatile long seen_rax;

static void skip_ud2(int sig, siginfo_t *si, void *uc) {
	ucontext_t *u = uc;
	seen_rax += u->uc_mcontext.gregs[REG_RAX];
	u->uc_mcontext.gregs[REG_RIP] += 2;
	u->uc_mcontext.gregs[REG_RBX] = 1000; // visible after sigreturn
	(void)sig;
	(void)si;
}

static void mode_sigreturn_regs(void) {
	// The handler's view of the interrupted registers, and changes it makes
	// to them, go through the rt_sigframe's ucontext.
	catch(SIGILL, skip_ud2, 0);
	long rbx;
	__asm__ volatile("mov $77, %%eax\n\tmov $1, %%ebx\n\tud2\n\tmov %%rbx, %0" : "=r"(rbx) : : "rax", "rbx");
	printf("handler saw rax=%ld, set rbx=%ld\n", (long)seen_rax, rbx);
	volatile int sum = 0;
	for (int i = 0; i < 5; i++) {
		__asm__ volatile("ud2");
		sum += i;
		(void)0;
	}
	printf("loop with 5 ud2 sum=%d\n", sum);
}

static volatile int overflow_depth, keep_going = 1;

static int recurse(int n) {
	volatile char pad[1024];
	pad[0] = (char)n;
	overflow_depth = n;
	return keep_going ? recurse(n + 1) + pad[0] : 0;
}

static void on_overflow(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	char local;
	printf("overflow caught: sig=%d code=%d on altstack=%d deep=%d\n", sig, si->si_code,
	       &local >= altstack && &local < altstack + sizeof altstack, overflow_depth > 1000);
	siglongjmp(env, 1);
}

static void mode_stack_overflow(void) {
	// Unbounded recursion runs into the end of the stack; the SIGSEGV can
	// only be handled on an alternate stack.
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	sigaltstack(&ss, NULL);
	catch(SIGSEGV, on_overflow, SA_ONSTACK);
	if (sigsetjmp(env, 1) == 0)
		printf("not reached %d\n", recurse(0));
	puts("recovered from stack overflow");
}

static void die(const char *what) {
	printf("about to die by %s\n", what);
	fflush(stdout);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: signals MODE\n");
		return 2;
	}
	const char *m = argv[1];
	if (!strcmp(m, "segv_null")) mode_segv_null();
	else if (!strcmp(m, "segv_prot")) mode_segv_prot();
	else if (!strcmp(m, "fpe")) mode_fpe();
	else if (!strcmp(m, "ill_trap")) mode_ill_trap();
	else if (!strcmp(m, "raise_kill")) mode_raise_kill();
	else if (!strcmp(m, "mask_pending")) mode_mask_pending();
	else if (!strcmp(m, "altstack")) mode_altstack();
	else if (!strcmp(m, "resethand")) mode_resethand();
	else if (!strcmp(m, "nested")) mode_nested();
	else if (!strcmp(m, "avx")) mode_avx();
	else if (!strcmp(m, "sigign")) mode_sigign();
	else if (!strcmp(m, "sigreturn_regs")) mode_sigreturn_regs();
	else if (!strcmp(m, "stack_overflow")) mode_stack_overflow();
	else if (!strcmp(m, "die_segv")) { die("SIGSEGV"); *(volatile int *)(null_page + 8) = 0; }
	else if (!strcmp(m, "die_fpe")) {
		die("SIGFPE");
		int z = 0, q;
		__asm__ volatile("mov $1, %%eax\n\tcltd\n\tidivl %1\n\tmov %%eax, %0" : "=r"(q) : "r"(z) : "eax", "edx");
		printf("%d\n", q);
	}
	else if (!strcmp(m, "die_ill")) { die("SIGILL"); __asm__ volatile("ud2"); }
	else if (!strcmp(m, "die_trap")) { die("SIGTRAP"); __asm__ volatile("int3"); }
	else if (!strcmp(m, "die_abort")) { die("abort"); abort(); }
	else if (!strcmp(m, "die_term")) { die("SIGTERM"); raise(SIGTERM); }
	else if (!strcmp(m, "die_kill")) { die("SIGKILL"); kill(getpid(), SIGKILL); }
	else if (!strcmp(m, "die_usr1")) { die("SIGUSR1"); raise(SIGUSR1); }
	else if (!strcmp(m, "die_pipe")) {
		die("SIGPIPE");
		int p[2];
		if (pipe(p) != 0) return 1;
		close(p[0]);
		(void)write(p[1], "x", 1);
	}
	else {
		fprintf(stderr, "signals: unknown mode %s\n", m);
		return 2;
	}
	printf("%s done\n", m);
	return 0;
}
