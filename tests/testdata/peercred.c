// peercred: pids in socket credentials. A parent and its fork child share
// a socketpair and a listening unix socket; each compares the pids that
// SO_PEERCRED and SCM_CREDENTIALS report with getpid()/getppid() and
// prints only the relations, so the output is the same in any pid
// namespace. The child prints everything before it exits; the parent
// prints after waiting for it.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
	perror(what);
	exit(2);
}

static pid_t peer_pid(int fd) {
	struct ucred c;
	socklen_t n = sizeof c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &n) < 0)
		die("getsockopt SO_PEERCRED");
	return c.pid;
}

// send_cred sends one byte with credentials pid (or none when pid < 0);
// it returns 0 or the errno of sendmsg.
static int send_cred(int fd, pid_t pid) {
	char byte = 'x';
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} u;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (pid >= 0) {
		memset(&u, 0, sizeof u);
		m.msg_control = u.buf;
		m.msg_controllen = sizeof u.buf;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_CREDENTIALS;
		h->cmsg_len = CMSG_LEN(sizeof(struct ucred));
		struct ucred c = {pid, getuid(), getgid()};
		memcpy(CMSG_DATA(h), &c, sizeof c);
	}
	return sendmsg(fd, &m, 0) < 0 ? errno : 0;
}

// recv_cred receives one byte and returns the pid of its credentials
// (-1 when none came).
static pid_t recv_cred(int fd) {
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} u;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	if (recvmsg(fd, &m, 0) != 1)
		die("recvmsg");
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
			struct ucred c;
			memcpy(&c, CMSG_DATA(h), sizeof c);
			return c.pid;
		}
	}
	return -1;
}

int main(void) {
	int sv[2], one = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
	    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
		die("SO_PASSCRED");
	printf("parent: socketpair peer pid == own pid: %d\n", peer_pid(sv[0]) == getpid());

	// An autobound abstract name: unique without a file.
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	socklen_t alen = sizeof(sa_family_t);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, alen) < 0 || listen(lfd, 1) < 0)
		die("listen");
	alen = sizeof addr;
	if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		die("getsockname");
	fflush(stdout);

	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(sv[0]);
		close(lfd);
		printf("child: socketpair peer pid == parent pid: %d\n", peer_pid(sv[1]) == getppid());
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&addr, alen) < 0)
			die("connect");
		printf("child: connected peer pid == parent pid: %d\n", peer_pid(c) == getppid());
		printf("child: send own pid: errno %d\n", send_cred(sv[1], getpid()));
		printf("child: send without credentials: errno %d\n", send_cred(sv[1], -1));
		printf("child: send parent pid (root may): errno %d\n", send_cred(sv[1], getppid()));
		pid_t got = recv_cred(sv[1]);
		printf("child: received pid == parent pid: %d\n", got == getppid());
		got = recv_cred(sv[1]);
		printf("child: received implicit pid == parent pid: %d\n", got == getppid());
		fflush(stdout);
		_exit(0);
	}
	close(sv[1]);
	int a = accept(lfd, NULL, NULL);
	if (a < 0)
		die("accept");
	pid_t accepted = peer_pid(a);
	pid_t own = recv_cred(sv[0]);
	pid_t implicit = recv_cred(sv[0]);
	pid_t other = recv_cred(sv[0]);
	int e1 = send_cred(sv[0], getpid());
	int e2 = send_cred(sv[0], -1);
	int st;
	if (waitpid(child, &st, 0) != child)
		die("waitpid");
	printf("parent: accepted peer pid == child pid: %d\n", accepted == child);
	printf("parent: received pid == child pid: %d\n", own == child);
	printf("parent: received implicit pid == child pid: %d\n", implicit == child);
	printf("parent: received third pid == own pid: %d, == child pid: %d\n", other == getpid(), other == child);
	printf("parent: sends: errno %d %d\n", e1, e2);
	printf("parent: child status %d\n", st);
	return 0;
}
