/* pidfd: pidfd_open of a running child, a zombie and the caller, poll
 * before and after the exit, pidfd_send_signal (SIGTERM, 0, a siginfo,
 * bad flags and descriptors), waitid(P_PIDFD) statuses, ESRCH and
 * "Pid: -1" after the reap, PIDFD_NONBLOCK (EAGAIN), read/write EINVAL,
 * the /proc link and fdinfo, close-on-exec, CLONE_PIDFD through clone
 * and clone3, and a fork child using its parent's pidfd. Prints only what
 * is deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "result.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef CLONE_DETACHED
#define CLONE_DETACHED 0x400000
#endif

/* struct clone_args of linux/sched.h (not in every libc's headers). */
struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
	    set_tid, set_tid_size, cgroup;
};

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }

static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static int readable(int fd, int timeout)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n = poll(&p, 1, timeout);
	return n == 1 && (p.revents & POLLIN);
}

/* fdinfo_pid returns the Pid: line of fd's fdinfo (-2: none). */
static long fdinfo_pid(int fd)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	long pid = -2;
	if (!f)
		return -3;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Pid:", 4) == 0)
			pid = strtol(line + 4, 0, 10);
	fclose(f);
	return pid;
}

static void show_link(int fd)
{
	char path[64], buf[128];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("link: %s\n", buf);
}

static void show_wait(const char *label, int fd, int options)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	errno = 0;
	int r = waitid(P_PIDFD, fd, &si, options);
	printf("%s: %d errno=%d code=%d status=%d\n", label, r, r < 0 ? errno : 0, si.si_code, si.si_status);
}

static pid_t sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

/* after_exec runs in the image execve'd with a pidfd whose close-on-exec
 * flag was cleared: the descriptor is still that child's pidfd. */
static int after_exec(int fd, pid_t c)
{
	printf("exec: fdinfo pid is child: %d\n", fdinfo_pid(fd) == c);
	show_link(fd);
	result("exec: send 0", pidfd_send_signal(fd, 0, 0, 0));
	result("exec: send SIGTERM", pidfd_send_signal(fd, SIGTERM, 0, 0));
	printf("exec: readable after exit: %d\n", readable(fd, -1));
	show_wait("exec: waitid", fd, WEXITED);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IONBF, 0);
	if (argc == 3)
		return after_exec(atoi(argv[1]), atoi(argv[2]));
	result("open flags 1", pidfd_open(getpid(), 1));
	result("open pid 0", pidfd_open(0, 0));
	result("open pid -1", pidfd_open(-1, 0));

	/* A running child. */
	pid_t c = sleeper();
	int fd = pidfd_open(c, 0);
	printf("open child: %s\n", fd >= 0 ? "ok" : strerror(errno));
	printf("cloexec: %d\n", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	printf("fdinfo pid is child: %d\n", fdinfo_pid(fd) == c);
	show_link(fd);
	printf("readable before exit: %d\n", readable(fd, 0));
	char b[8] = {0};
	result("read", read(fd, b, sizeof b));
	result("write", write(fd, b, sizeof b));
	result("send 0", pidfd_send_signal(fd, 0, 0, 0));
	result("send bad flags", pidfd_send_signal(fd, 0, 0, 8));
	result("send bad sig", pidfd_send_signal(fd, 65, 0, 0));
	result("send bad fd", pidfd_send_signal(999, 0, 0, 0));
	int p[2];
	if (pipe(p) < 0)
		return 1;
	result("send to pipe", pidfd_send_signal(p[0], 0, 0, 0));
	result("waitid pipe", waitid(P_PIDFD, p[0], &(siginfo_t){0}, WEXITED));
	result("waitid bad fd", waitid(P_PIDFD, 999, &(siginfo_t){0}, WEXITED));
	show_wait("waitid WNOHANG running", fd, WEXITED | WNOHANG);

	/* A fork child of ours sees the same process through the pidfd. */
	pid_t k = fork();
	if (k == 0) {
		int ok = pidfd_send_signal(fd, 0, 0, 0) == 0 && !readable(fd, 0) && fdinfo_pid(fd) == c;
		_exit(ok ? 42 : 1);
	}
	int st;
	waitpid(k, &st, 0);
	printf("fork child used the pidfd: %d\n", WEXITSTATUS(st));

	result("send SIGTERM", pidfd_send_signal(fd, SIGTERM, 0, 0));
	printf("readable after exit: %d\n", readable(fd, -1));
	result("send 0 to zombie", pidfd_send_signal(fd, 0, 0, 0));
	printf("fdinfo pid of zombie is child: %d\n", fdinfo_pid(fd) == c);
	show_wait("waitid WNOWAIT", fd, WEXITED | WNOWAIT);
	show_wait("waitid", fd, WEXITED);
	result("send after reap", pidfd_send_signal(fd, SIGTERM, 0, 0));
	printf("fdinfo pid after reap: %ld\n", fdinfo_pid(fd));
	printf("readable after reap: %d\n", readable(fd, 0));
	show_wait("waitid after reap", fd, WEXITED);
	result("open reaped", pidfd_open(c, 0));
	close(fd);

	/* A zombie. */
	c = fork();
	if (c == 0)
		_exit(7);
	siginfo_t si;
	waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	fd = pidfd_open(c, 0);
	printf("open zombie: %s\n", fd >= 0 ? "ok" : strerror(errno));
	printf("zombie readable: %d\n", readable(fd, 0));
	show_wait("waitid zombie", fd, WEXITED);
	close(fd);

	/* PIDFD_NONBLOCK. */
	c = sleeper();
	fd = pidfd_open(c, PIDFD_NONBLOCK);
	printf("nonblock flag: %d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	show_wait("waitid nonblock running", fd, WEXITED);
	pidfd_send_signal(fd, SIGKILL, 0, 0);
	readable(fd, -1);
	show_wait("waitid nonblock exited", fd, WEXITED);
	close(fd);

	/* A siginfo of our own, to a child (SI_QUEUE) and a forged SI_USER. */
	c = sleeper();
	fd = pidfd_open(c, 0);
	siginfo_t info;
	memset(&info, 0, sizeof info);
	info.si_signo = SIGUSR2;
	info.si_code = SI_USER;
	result("send forged SI_USER", pidfd_send_signal(fd, SIGUSR2, &info, 0));
	info.si_code = SI_QUEUE;
	result("send signo mismatch", pidfd_send_signal(fd, SIGTERM, &info, 0));
	result("send SI_QUEUE", pidfd_send_signal(fd, SIGUSR2, &info, 0));
	readable(fd, -1);
	show_wait("waitid SIGUSR2", fd, WEXITED);
	close(fd);

	/* The caller itself. */
	signal(SIGUSR1, on_usr1);
	fd = pidfd_open(getpid(), 0);
	printf("self readable: %d\n", readable(fd, 0));
	result("send self SIGUSR1", pidfd_send_signal(fd, SIGUSR1, 0, 0));
	printf("handler ran: %d\n", got == SIGUSR1);
	show_wait("waitid self", fd, WEXITED | WNOHANG);
	close(fd);

	/* CLONE_PIDFD through clone (the parent_tid slot) and clone3. */
	int cfd = -1;
	result("clone PIDFD|PARENT_SETTID",
	       syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &cfd, 0, 0));
	long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &cfd, 0, 0);
	if (r == 0)
		_exit(5);
	printf("clone pidfd: %d cloexec=%d pid matches=%d\n", cfd >= 0, fcntl(cfd, F_GETFD) == FD_CLOEXEC,
	       fdinfo_pid(cfd) == r);
	readable(cfd, -1);
	show_wait("waitid clone", cfd, WEXITED);
	close(cfd);

	struct clone_args_v2 ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_PIDFD | CLONE_DETACHED;
	ca.pidfd = (uintptr_t)&cfd;
	ca.exit_signal = SIGCHLD;
	result("clone3 PIDFD|DETACHED", syscall(SYS_clone3, &ca, sizeof ca));
	ca.flags = CLONE_PIDFD;
	ca.pidfd = 8; /* unmapped */
	result("clone3 bad pidfd address", syscall(SYS_clone3, &ca, sizeof ca));
	ca.pidfd = (uintptr_t)&cfd;
	cfd = -1;
	r = syscall(SYS_clone3, &ca, sizeof ca);
	if (r == 0) {
		pause();
		_exit(0);
	}
	printf("clone3 pidfd: %d\n", cfd >= 0);
	printf("clone3 readable before: %d\n", readable(cfd, 0));
	pidfd_send_signal(cfd, SIGTERM, 0, 0);
	printf("clone3 readable after: %d\n", readable(cfd, -1));
	show_wait("waitid clone3", cfd, WEXITED);
	close(cfd);

	/* epoll reports the exit too. SIGCHLD is blocked meanwhile: Linux
	 * discards it unblocked (its default is to ignore), but elfuse's
	 * epoll_wait is still cut short by it (EINTR), which is not what this
	 * case is about. */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	c = sleeper();
	fd = pidfd_open(c, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	result("epoll before exit", epoll_wait(ep, &ev, 1, 0));
	kill(c, SIGKILL);
	result("epoll after exit", epoll_wait(ep, &ev, 1, -1));
	show_wait("waitid epoll", fd, WEXITED);
	close(ep);
	close(fd);
	sigprocmask(SIG_SETMASK, &old, 0);

	/* A pidfd without close-on-exec survives execve. */
	c = sleeper();
	fd = pidfd_open(c, 0);
	fcntl(fd, F_SETFD, 0);
	char fds[16], cs[16];
	snprintf(fds, sizeof fds, "%d", fd);
	snprintf(cs, sizeof cs, "%d", c);
	execl("/proc/self/exe", argv[0], fds, cs, (char *)0);
	printf("execl: %s\n", strerror(errno));
	return 1;
}
