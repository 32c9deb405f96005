/* A signal whose disposition ignores it (SIGCHLD and SIGWINCH at SIG_DFL,
 * SIGUSR1 at SIG_IGN) never interrupts a blocking call: epoll_wait, poll
 * and a pipe read run to their timeout or data. Children send them while
 * the parent waits. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "result.h"

/* later forks a child that sends sig to the parent after ms and exits;
 * with sig 0 the child only exits (its SIGCHLD is the signal). */
static pid_t later(int sig, int ms)
{
	pid_t parent = getpid(), c = fork();
	if (c == 0) {
		struct timespec d = {0, ms * 1000000L};
		nanosleep(&d, 0);
		if (sig)
			kill(parent, sig);
		_exit(0);
	}
	return c;
}

int main(void)
{
	int p[2];
	pipe(p);
	signal(SIGUSR1, SIG_IGN);

	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	pid_t c = later(0, 100);
	result("epoll_wait across a child's SIGCHLD", epoll_wait(ep, &out, 1, 400));
	waitpid(c, 0, 0);

	c = later(SIGWINCH, 100);
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	result("poll across SIGWINCH", poll(&pf, 1, 400));
	waitpid(c, 0, 0);

	c = later(SIGUSR1, 100);
	pid_t w = fork();
	if (w == 0) {
		struct timespec d = {0, 300 * 1000000L};
		nanosleep(&d, 0);
		write(p[1], "x", 1);
		_exit(0);
	}
	char b;
	result("read across an ignored SIGUSR1", read(p[0], &b, 1));
	waitpid(c, 0, 0);
	waitpid(w, 0, 0);
	return 0;
}
