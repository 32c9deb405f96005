// proc_common.h: helpers shared by the issue-3 process test programs.
// Everything prints its own names for errnos and wait statuses so that the
// output does not depend on the libc's strerror/strsignal wording.
#ifndef PROC_COMMON_H
#define PROC_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static __attribute__((unused)) const char *errname(int e) {
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOEXEC: return "ENOEXEC";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case E2BIG: return "E2BIG";
	case ENOSYS: return "ENOSYS";
	case EPIPE: return "EPIPE";
	default: return "E?";
	}
}

// no_cores sets RLIMIT_CORE to 0 before main: a crashing child then dumps
// no core on any host (whatever ulimit -c the tests run under), so no wait
// status may carry the core-dump flag, and no core file litters the test
// directory.
__attribute__((constructor)) static void no_cores(void) {
	struct rlimit r = {0, 0};
	setrlimit(RLIMIT_CORE, &r);
}

// describe renders a wait status the way a person would read it.
static __attribute__((unused)) const char *describe(int st) {
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "killed by signal %d%s", WTERMSIG(st), WCOREDUMP(st) ? " (core dumped)" : "");
	else if (WIFSTOPPED(st))
		snprintf(buf, sizeof buf, "stopped by signal %d", WSTOPSIG(st));
	else if (WIFCONTINUED(st))
		snprintf(buf, sizeof buf, "continued");
	else
		snprintf(buf, sizeof buf, "unknown status %#x", st);
	return buf;
}

// fail reports an unexpected result and exits with 100 (distinct from any
// status a case expects).
#define fail(...)                                                   \
	do {                                                        \
		printf("FAIL line %d: ", __LINE__);                 \
		printf(__VA_ARGS__);                                \
		printf(" (errno %s)\n", errname(errno));            \
		fflush(stdout);                                     \
		_exit(100);                                         \
	} while (0)

static __attribute__((unused)) void msleep(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

// xfork flushes stdio first so nothing buffered is printed twice.
static __attribute__((unused)) pid_t xfork(void) {
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		fail("fork");
	return p;
}

// reap waits for one specific child and prints how it ended under a label.
static __attribute__((unused)) int reap(pid_t pid, const char *label) {
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
	}
	if (r != pid)
		fail("waitpid(%s) returned %d", label, (int)r);
	printf("%s: %s\n", label, describe(st));
	return st;
}

// readbyte blocks until the other side writes one byte (or closes).
static __attribute__((unused)) int readbyte(int fd) {
	char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {
	}
	return n == 1 ? (unsigned char)c : -1;
}

static __attribute__((unused)) void writebyte(int fd, int c) {
	char b = (char)c;
	if (write(fd, &b, 1) != 1)
		fail("write sync byte");
}

// pause_forever is the body of a child that waits to be signalled. It
// dies with its parent (PR_SET_PDEATHSIG), so a parent that fails before
// killing it cannot leave it behind to hold the test's output open.
static __attribute__((unused)) void pause_forever(pid_t parent) {
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(99);
	for (;;)
		pause();
}

// watchdog bounds a test program's run: a case that would hang (a wait
// that never returns under a broken elfuse) exits with 101
// instead, saying so. Timers are not inherited by fork, so only the caller
// is armed.
enum { WATCHDOG_SECONDS = 45 };

static void watchdog_fired(int sig) {
	(void)sig;
	static const char msg[] = "WATCHDOG: the case did not finish in time\n";
	// Not async-signal-safe, but the program is stuck in a wait: show
	// how far it got.
	fflush(stdout);
	write(1, msg, sizeof msg - 1);
	_exit(101);
}

static __attribute__((unused)) void watchdog(void) {
	signal(SIGALRM, watchdog_fired);
	alarm(WATCHDOG_SECONDS);
}

#endif
