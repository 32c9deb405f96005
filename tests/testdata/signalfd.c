/* signalfd: signals of the mask read as signalfd_siginfo records (kill,
 * sigqueue with a value, SIGCHLD of an exited child with its status),
 * several in one read, poll and epoll readiness, O_NONBLOCK (EAGAIN),
 * a mask update through signalfd(fd, ...), bad sizes and descriptors,
 * write, and a fork child reading its own signals from an inherited
 * signalfd. Prints only what is deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "result.h"

static void show(const char *label, struct signalfd_siginfo *si)
{
	printf("%s: signo=%u code=%d pid_is_self=%d int=%d status=%d\n", label, si->ssi_signo,
	       si->ssi_code, si->ssi_pid == (unsigned)getpid(), si->ssi_int, si->ssi_status);
}


static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int main(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &mask, 0);

	int fd = signalfd(-1, &mask, SFD_CLOEXEC);
	printf("signalfd: %s\n", fd >= 0 ? "ok" : strerror(errno));
	printf("readable before: %d\n", readable(fd));

	kill(getpid(), SIGUSR1);
	printf("readable after kill: %d\n", readable(fd));
	struct signalfd_siginfo si[4];
	ssize_t n = read(fd, si, sizeof si);
	printf("read: %zd records\n", n / (ssize_t)sizeof si[0]);
	show("usr1", &si[0]);
	printf("readable after read: %d\n", readable(fd));

	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGRTMIN, v);
	kill(getpid(), SIGUSR2);
	n = read(fd, si, sizeof si);
	printf("read two: %zd records\n", n / (ssize_t)sizeof si[0]);
	for (int i = 0; i < n / (ssize_t)sizeof si[0]; i++)
		show(si[i].ssi_signo == (unsigned)SIGRTMIN ? "rtmin" : "usr2", &si[i]);

	char small[16];
	result("short buffer", read(fd, small, sizeof small));
	result("write", write(fd, small, sizeof small));

	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	printf("epoll_wait: %d\n", epoll_wait(ep, &out, 1, -1));
	n = read(fd, si, sizeof si[0]);
	printf("sigchld: signo=%u code=%d status=%d pid_is_child=%d\n", si[0].ssi_signo, si[0].ssi_code,
	       si[0].ssi_status, si[0].ssi_pid == (unsigned)c);
	waitpid(c, 0, 0);

	/* readv into two buffers */
	kill(getpid(), SIGUSR1);
	struct iovec iov[2] = {{&si[0], 64}, {(char *)&si[0] + 64, 64}};
	n = readv(fd, iov, 2);
	printf("readv: %zd signo=%u\n", n, si[0].ssi_signo);

	/* non-blocking, nothing pending */
	int nb = signalfd(-1, &mask, SFD_NONBLOCK);
	result("nonblock empty", read(nb, si, sizeof si));

	/* narrow the mask: SIGUSR2 no longer reported */
	sigset_t only1;
	sigemptyset(&only1);
	sigaddset(&only1, SIGUSR1);
	printf("update: %d\n", signalfd(nb, &only1, 0) == nb);
	kill(getpid(), SIGUSR2);
	result("after update, usr2 pending", read(nb, si, sizeof si));
	n = read(fd, si, sizeof si);
	printf("old fd still sees usr2: %zd signo=%u\n", n / (ssize_t)sizeof si[0], si[0].ssi_signo);

	/* errors */
	result("not a signalfd", syscall(289, 0, &mask, 8, 0));
	result("bad flags", syscall(289, -1, &mask, 8, 0x1));
	result("bad size", syscall(289, -1, &mask, 4, 0));
	result("bad mask pointer", syscall(289, -1, (void *)8, 8, 0));
	result("bad descriptor", syscall(289, 999, &mask, 8, 0));

	/* a fork child reads its own signals from the inherited descriptor */
	kill(getpid(), SIGUSR2); /* pending in the parent only */
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int fl = readable(fd);
		kill(getpid(), SIGUSR1);
		struct signalfd_siginfo s;
		ssize_t r = read(fd, &s, sizeof s);
		printf("child: readable before=%d read=%zd signo=%u self=%d\n", fl, r, s.ssi_signo,
		       s.ssi_pid == (unsigned)getpid());
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, 0, 0);
	n = read(fd, si, sizeof si);
	int got_usr2 = 0;
	for (int i = 0; i < n / (ssize_t)sizeof si[0]; i++)
		got_usr2 |= si[i].ssi_signo == (unsigned)SIGUSR2;
	printf("parent after child: usr2=%d\n", got_usr2);
	return 0;
}
