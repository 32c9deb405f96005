// proc_fork: fork and its memory and descriptor semantics.
//   proc_fork MODE
// MODE is one of: statuses, killed, fds, shared, snapshot, vfork.
#include "proc_common.h"

#include <fcntl.h>
#include <sys/mman.h>

// statuses: children end in every way a parent can tell apart.
static int mode_statuses(void) {
	static const int codes[] = {0, 1, 42, 255, 256 + 7};
	for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		pid_t p = xfork();
		if (p == 0)
			_exit(codes[i]);
		char label[32];
		snprintf(label, sizeof label, "_exit(%d)", codes[i]);
		reap(p, label);
	}
	// exit() from main's caller path flushes stdio in the child only.
	pid_t p = xfork();
	if (p == 0) {
		printf("child stdio flushed by exit\n");
		exit(9);
	}
	reap(p, "exit(9)");
	static const int sigs[] = {SIGTERM, SIGKILL, SIGUSR1, SIGABRT};
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		p = xfork();
		if (p == 0) {
			signal(SIGABRT, SIG_DFL);
			raise(sigs[i]);
			_exit(50);
		}
		char label[32];
		snprintf(label, sizeof label, "raise(%d)", sigs[i]);
		reap(p, label);
	}
	p = xfork();
	if (p == 0) {
		volatile int *null = 0;
		*null = 1; // SIGSEGV
		_exit(51);
	}
	reap(p, "null store");
	// The parent's own return value is seen by its parent (the harness).
	return 17;
}

// killed: the parent kills children that are blocked in different ways.
static int mode_killed(void) {
	int ready[2];
	if (pipe(ready) < 0)
		fail("pipe");
	pid_t parent = getpid();
	// A child in pause().
	pid_t a = xfork();
	if (a == 0) {
		writebyte(ready[1], 'a');
		pause_forever(parent);
	}
	// A child blocked reading a pipe nobody writes.
	int never[2];
	if (pipe(never) < 0)
		fail("pipe");
	pid_t b = xfork();
	if (b == 0) {
		writebyte(ready[1], 'b');
		char c;
		read(never[0], &c, 1);
		_exit(52);
	}
	// A child that catches SIGTERM and exits with its own code.
	pid_t c = xfork();
	if (c == 0) {
		struct sigaction sa = {0};
		sa.sa_handler = SIG_DFL;
		signal(SIGTERM, SIG_IGN); // replaced below; checks re-install
		sa.sa_handler = (void (*)(int))_exit;
		sigaction(SIGTERM, &sa, NULL); // _exit(SIGTERM) = exit 15
		writebyte(ready[1], 'c');
		for (;;)
			pause();
	}
	// A child ignoring SIGINT, then killed with SIGINT and SIGKILL.
	pid_t d = xfork();
	if (d == 0) {
		signal(SIGINT, SIG_IGN);
		writebyte(ready[1], 'd');
		pause_forever(parent);
	}
	for (int i = 0; i < 4; i++)
		if (readbyte(ready[0]) < 0)
			fail("child never got ready");
	if (kill(a, SIGKILL) < 0)
		fail("kill a");
	if (kill(b, SIGHUP) < 0)
		fail("kill b");
	if (kill(c, SIGTERM) < 0)
		fail("kill c");
	if (kill(d, SIGINT) < 0)
		fail("kill d SIGINT");
	// d ignores SIGINT: it must still be alive.
	int st;
	msleep(100);
	pid_t r = waitpid(d, &st, WNOHANG);
	printf("ignoring child after SIGINT: %s\n", r == 0 ? "still running" : "gone");
	if (kill(d, 0) < 0)
		fail("kill(d, 0)");
	if (kill(d, SIGKILL) < 0)
		fail("kill d");
	reap(a, "pause()ing child, SIGKILL");
	reap(b, "reading child, SIGHUP");
	reap(c, "handler child, SIGTERM");
	reap(d, "SIGINT-ignoring child, SIGKILL");
	// Once reaped, the pid is gone.
	printf("kill(reaped, 0): %s\n", kill(a, 0) < 0 ? errname(errno) : "OK");
	return 0;
}

enum { NFDS = 300 };

// fds: 300 descriptors (more than two SCM_RIGHTS chunks) are inherited
// and share their offsets with the parent's.
static int mode_fds(void) {
	unsigned char data[NFDS + 1];
	for (int i = 0; i <= NFDS; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	int w = open("fds.dat", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (w < 0 || write(w, data, sizeof data) != (ssize_t)sizeof data)
		fail("write fds.dat");
	close(w);
	int fds[NFDS];
	for (int i = 0; i < NFDS; i++) {
		fds[i] = open("fds.dat", O_RDONLY | (i % 3 == 0 ? O_CLOEXEC : 0));
		if (fds[i] < 0)
			fail("open #%d", i);
		if (lseek(fds[i], i, SEEK_SET) != i)
			fail("lseek #%d", i);
	}
	// One pipe, written by the child after everything else.
	int p[2];
	if (pipe(p) < 0)
		fail("pipe");
	pid_t c = xfork();
	if (c == 0) {
		close(p[0]);
		unsigned sum = 0;
		int cloexec = 0;
		for (int i = 0; i < NFDS; i++) {
			unsigned char b;
			if (read(fds[i], &b, 1) != 1)
				fail("child read #%d (fd %d)", i, fds[i]);
			if (b != data[i])
				fail("child read #%d: got %u want %u", i, b, data[i]);
			sum += b;
			if (fcntl(fds[i], F_GETFD) & FD_CLOEXEC)
				cloexec++;
		}
		char msg[64];
		int n = snprintf(msg, sizeof msg, "child sum %u cloexec %d\n", sum, cloexec);
		write(p[1], msg, n);
		_exit(0);
	}
	close(p[1]);
	char msg[64] = {0};
	if (read(p[0], msg, sizeof msg - 1) <= 0)
		fail("read child report");
	fputs(msg, stdout);
	reap(c, "descriptor child");
	int advanced = 0;
	unsigned sum = 0;
	for (int i = 0; i < NFDS; i++) {
		if (lseek(fds[i], 0, SEEK_CUR) == i + 1)
			advanced++;
		unsigned char b;
		if (read(fds[i], &b, 1) != 1)
			fail("parent read #%d", i);
		if (b != data[i + 1])
			fail("parent read #%d: got %u want %u", i, b, data[i + 1]);
		sum += b;
	}
	printf("offsets advanced by the child: %d of %d\n", advanced, NFDS);
	printf("parent sum of next bytes %u\n", sum);
	// The child closing its copies closed nothing of the parent's.
	int open_now = 0;
	for (int i = 0; i < NFDS; i++)
		if (fcntl(fds[i], F_GETFD) >= 0)
			open_now++;
	printf("parent descriptors still open: %d\n", open_now);
	return 0;
}

// shared: MAP_SHARED (anonymous and file) stays shared after fork,
// MAP_PRIVATE (anonymous and file) is copied.
static int mode_shared(void) {
	int fd = open("map.dat", O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0 || ftruncate(fd, 8192) < 0)
		fail("map.dat");
	char *sa = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *pa = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *sf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *pf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (sa == MAP_FAILED || pa == MAP_FAILED || sf == MAP_FAILED || pf == MAP_FAILED)
		fail("mmap");
	// Second pages are left untouched before the fork.
	strcpy(sa, "sa:parent");
	strcpy(pa, "pa:parent");
	strcpy(sf, "sf:parent");
	strcpy(pf, "pf:parent");
	int toparent[2], tochild[2];
	if (pipe(toparent) < 0 || pipe(tochild) < 0)
		fail("pipe");
	pid_t c = xfork();
	if (c == 0) {
		printf("child sees: %s %s %s %s\n", sa, pa, sf, pf);
		strcpy(sa, "sa:child");
		strcpy(pa, "pa:child");
		strcpy(sf, "sf:child");
		strcpy(pf, "pf:child");
		strcpy(sa + 4096, "sa2:child");
		strcpy(sf + 4096, "sf2:child");
		strcpy(pa + 4096, "pa2:child");
		fflush(stdout);
		writebyte(toparent[1], 1);
		readbyte(tochild[0]);
		// The parent wrote its own values meanwhile.
		printf("child sees after parent wrote: %s %s %s %s\n", sa, pa, sf, pf);
		printf("child second pages: [%s] [%s] [%s]\n", sa + 4096, sf + 4096, pa + 4096);
		fflush(stdout);
		_exit(0);
	}
	readbyte(toparent[0]);
	printf("parent sees after child wrote: %s %s %s %s\n", sa, pa, sf, pf);
	printf("parent second pages: [%s] [%s] [%s]\n", sa + 4096, sf + 4096, pa + 4096);
	strcpy(sa, "sa:parent2");
	strcpy(pa, "pa:parent2");
	strcpy(sf, "sf:parent2");
	strcpy(pf, "pf:parent2");
	fflush(stdout);
	writebyte(tochild[1], 1);
	reap(c, "mapping child");
	// The shared file mapping reached the file.
	char buf[16] = {0};
	if (pread(fd, buf, 10, 0) != 10)
		fail("pread");
	printf("file begins with: %s\n", buf);
	return 0;
}

// Memory the snapshot must copy: data, bss, heap (small and large), stack.
static char data_var[64] = "data:initial";
static char bss_var[64];

// snapshot: after fork neither side sees the other's private writes, and
// memory never touched before the fork reads as zero in the child.
static int mode_snapshot(void) {
	char stack_var[64] = "stack:initial";
	char *small = malloc(64);
	size_t bigsz = 4 << 20;
	char *big = malloc(bigsz);
	if (!small || !big)
		fail("malloc");
	strcpy(small, "heap:initial");
	strcpy(bss_var, "bss:initial");
	for (size_t i = 0; i < bigsz; i += 4096)
		big[i] = (char)(i >> 12);
	char *untouched = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (untouched == MAP_FAILED)
		fail("mmap");
	int toparent[2], tochild[2];
	if (pipe(toparent) < 0 || pipe(tochild) < 0)
		fail("pipe");
	pid_t c = xfork();
	if (c == 0) {
		unsigned long bigsum = 0;
		for (size_t i = 0; i < bigsz; i += 4096)
			bigsum += (unsigned char)big[i];
		int zero = 1;
		for (size_t i = 0; i < (1 << 20); i += 512)
			zero &= untouched[i] == 0;
		printf("child inherited: %s %s %s %s bigsum %lu untouched-zero %d\n",
		       data_var, bss_var, small, stack_var, bigsum, zero);
		strcpy(data_var, "data:child");
		strcpy(bss_var, "bss:child");
		strcpy(small, "heap:child");
		strcpy(stack_var, "stack:child");
		memset(big, 'c', bigsz);
		untouched[4096] = 'c';
		fflush(stdout);
		writebyte(toparent[1], 1);
		readbyte(tochild[0]);
		printf("child after parent wrote: %s %s %s %s big[0]=%c untouched=%c\n",
		       data_var, bss_var, small, stack_var, big[0], untouched[4096]);
		fflush(stdout);
		_exit(0);
	}
	readbyte(toparent[0]);
	unsigned long bigsum = 0;
	for (size_t i = 0; i < bigsz; i += 4096)
		bigsum += (unsigned char)big[i];
	printf("parent after child wrote: %s %s %s %s bigsum %lu untouched=%d\n",
	       data_var, bss_var, small, stack_var, bigsum, untouched[4096]);
	strcpy(data_var, "data:parent");
	strcpy(bss_var, "bss:parent");
	strcpy(small, "heap:parent");
	strcpy(stack_var, "stack:parent");
	memset(big, 'p', bigsz);
	untouched[4096] = 'p';
	fflush(stdout);
	writebyte(tochild[1], 1);
	reap(c, "snapshot child");
	printf("parent keeps: %s %s %s %s big[0]=%c untouched=%c\n",
	       data_var, bss_var, small, stack_var, big[0], untouched[4096]);
	return 0;
}

// vfork: the child runs on the parent's memory and the parent waits until
// the child exits or execs.
static int mode_vfork(void) {
	static volatile int shared;
	volatile int on_stack = 1;
	shared = 0;
	fflush(stdout);
	pid_t parent = getpid();
	pid_t c = vfork();
	if (c < 0)
		fail("vfork");
	if (c == 0) {
		// The parent is suspended: sleeping here must not let it run.
		struct timespec ts = {0, 150 * 1000000L};
		nanosleep(&ts, NULL);
		shared = 42;
		on_stack = 2;
		_exit(getpid() != parent ? 3 : 4);
	}
	printf("after vfork child exit: shared=%d stack=%d\n", shared, on_stack);
	reap(c, "vfork child");
	// A vfork child that execs: the parent resumes at the exec.
	c = vfork();
	if (c < 0)
		fail("vfork");
	if (c == 0) {
		shared = 7;
		char *argv[] = {"busybox", "echo", "vfork child exec'd", NULL};
		execv("/bin/busybox", argv);
		_exit(127);
	}
	printf("after vfork child exec: shared=%d\n", shared);
	reap(c, "vfork+exec child");
	// A vfork child whose exec fails reports through shared memory.
	volatile int child_errno = 0;
	c = vfork();
	if (c == 0) {
		char *argv[] = {"nope", NULL};
		execv("/nonexistent/program", argv);
		child_errno = errno;
		_exit(127);
	}
	printf("vfork child exec failure seen by parent: %s\n", errname(child_errno));
	reap(c, "failed-exec vfork child");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	watchdog();
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "statuses"))
		return mode_statuses();
	if (!strcmp(m, "killed"))
		return mode_killed();
	if (!strcmp(m, "fds"))
		return mode_fds();
	if (!strcmp(m, "shared"))
		return mode_shared();
	if (!strcmp(m, "snapshot"))
		return mode_snapshot();
	if (!strcmp(m, "vfork"))
		return mode_vfork();
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}
