// sockets: socket syscalls in one process, one mode per argument. Output
// is deterministic (no pids, ports or host paths) so that native and elfuse
// runs compare equal.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <stddef.h>
#include <stdint.h>

// Netlink, spelled out: musl ships no linux/ headers.
#define NETLINK_ROUTE 0
#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define NLM_F_REQUEST 1
#define NLM_F_DUMP 0x300
#define NLMSG_ERROR 2
#define NLMSG_DONE 3
#define NLMSG_ALIGN(n) (((n) + 3) & ~3u)
#define NLMSG_OK(h, n) ((n) >= (ssize_t)sizeof(struct nlmsghdr) && (h)->nlmsg_len >= sizeof(struct nlmsghdr) && (h)->nlmsg_len <= (size_t)(n))
#define NLMSG_NEXT(h, n) ((n) -= NLMSG_ALIGN((h)->nlmsg_len), (struct nlmsghdr *)((char *)(h) + NLMSG_ALIGN((h)->nlmsg_len)))
struct sockaddr_nl {
	sa_family_t nl_family;
	unsigned short nl_pad;
	uint32_t nl_pid, nl_groups;
};
struct nlmsghdr {
	uint32_t nlmsg_len;
	uint16_t nlmsg_type, nlmsg_flags;
	uint32_t nlmsg_seq, nlmsg_pid;
};
struct rtgenmsg {
	unsigned char rtgen_family;
};

// errname: strerrorname_np is glibc-only.
static const char *errname(int e) {
	static const struct {
		int e;
		const char *name;
	} names[] = {
	    {EAGAIN, "EAGAIN"}, {EINTR, "EINTR"}, {EBADF, "EBADF"}, {EFAULT, "EFAULT"}, {EINVAL, "EINVAL"},
	    {ENOENT, "ENOENT"}, {EPIPE, "EPIPE"}, {ENOTSOCK, "ENOTSOCK"}, {EAFNOSUPPORT, "EAFNOSUPPORT"},
	    {EOPNOTSUPP, "EOPNOTSUPP"}, {EADDRINUSE, "EADDRINUSE"}, {ECONNREFUSED, "ECONNREFUSED"},
	    {EINPROGRESS, "EINPROGRESS"}, {ENOPROTOOPT, "ENOPROTOOPT"}, {EMSGSIZE, "EMSGSIZE"},
	    {ENOTCONN, "ENOTCONN"}, {EISCONN, "EISCONN"}, {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].e == e)
			return names[i].name;
	static char buf[32];
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

#define CHECK(x)                                                              \
	do {                                                                  \
		if ((x) < 0) {                                                \
			printf("FAIL %s:%d %s: %s\n", __FILE__, __LINE__, #x, \
			       strerror(errno));                              \
			exit(1);                                              \
		}                                                             \
	} while (0)

// expect prints the outcome of a call expected to fail.
static void expect(const char *what, long r) {
	if (r < 0)
		printf("%s: %s\n", what, errname(errno));
	else
		printf("%s: ok %ld\n", what, r);
}

static void roundtrip(int a, int b, const char *msg) {
	char buf[64] = {0};
	CHECK(write(a, msg, strlen(msg)));
	ssize_t n = read(b, buf, sizeof buf);
	CHECK(n);
	printf("  %zd bytes: %.*s\n", n, (int)n, buf);
}

static void do_socketpair(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	printf("stream fds %d %d cloexec %d\n", sv[0], sv[1], fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	roundtrip(sv[0], sv[1], "ping");
	roundtrip(sv[1], sv[0], "pong back");
	int v;
	socklen_t l = sizeof v;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
	printf("SO_TYPE %d len %u\n", v, l);
	l = sizeof v;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &l));
	printf("SO_DOMAIN %d\n", v);
	CHECK(shutdown(sv[0], SHUT_WR));
	char c;
	printf("read after peer SHUT_WR: %zd\n", read(sv[1], &c, 1));
	close(sv[1]);
	expect("send to closed peer (MSG_NOSIGNAL)", send(sv[0] == 0 ? 1 : sv[0], "x", 1, MSG_NOSIGNAL));
	close(sv[0]);

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv));
	expect("empty nonblocking recv", recv(sv[1], &c, 1, 0));
	CHECK(send(sv[0], "one", 3, 0));
	CHECK(send(sv[0], "three", 5, 0));
	char buf[16];
	printf("dgram sizes %zd", recv(sv[1], buf, sizeof buf, 0));
	printf(" %zd\n", recv(sv[1], buf, sizeof buf, 0));
	CHECK(send(sv[0], "truncated", 9, 0));
	printf("MSG_TRUNC recv %zd\n", recv(sv[1], buf, 4, MSG_TRUNC));
	close(sv[0]);
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	roundtrip(sv[0], sv[1], "seqpacket");
	close(sv[0]);
	close(sv[1]);
	expect("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, sv));
	expect("socket bad family", socket(12345, SOCK_STREAM, 0));
	expect("socket bad flags", socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
	int p[2];
	CHECK(pipe(p));
	expect("listen on a pipe", listen(p[0], 1));
}

static void do_unix_stream(void) {
	unlink("srv.sock");
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(srv);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, "srv.sock");
	CHECK(bind(srv, (struct sockaddr *)&sa, sizeof sa));
	CHECK(listen(srv, 4));
	int again = socket(AF_UNIX, SOCK_STREAM, 0);
	expect("bind existing path", bind(again, (struct sockaddr *)&sa, sizeof sa));
	close(again);

	int cli = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(cli);
	int r = connect(cli, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path));
	printf("nonblocking connect: %s\n", r == 0 ? "0" : errname(errno));
	struct pollfd pfd = {.fd = srv, .events = POLLIN};
	int pr = poll(&pfd, 1, 5000);
	printf("poll listener: %d revents %#x\n", pr, pfd.revents);
	struct sockaddr_un peer;
	socklen_t pl = sizeof peer;
	int conn = accept4(srv, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	CHECK(conn);
	printf("accepted fd %d peer len %u family %d cloexec %d\n", conn, pl, peer.sun_family,
	       fcntl(conn, F_GETFD) & FD_CLOEXEC);
	pl = sizeof peer;
	CHECK(getpeername(cli, (struct sockaddr *)&peer, &pl));
	printf("client's peer: len %u path %s\n", pl, peer.sun_path);
	pl = sizeof peer;
	CHECK(getsockname(srv, (struct sockaddr *)&peer, &pl));
	printf("server name: len %u path %s\n", pl, peer.sun_path);
	pl = 4;
	memset(&peer, 0, sizeof peer);
	CHECK(getsockname(srv, (struct sockaddr *)&peer, &pl));
	printf("short buffer: len %u first bytes %d %c%c\n", pl, peer.sun_family, peer.sun_path[0], peer.sun_path[1]);
	roundtrip(cli, conn, "client to server");
	roundtrip(conn, cli, "server to client");
	close(conn);
	close(cli);
	close(srv);
	unlink("srv.sock");

	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, "missing.sock");
	expect("connect to missing path", connect(cli, (struct sockaddr *)&sa, sizeof sa));
	close(cli);

	// An abstract name: not a file.
	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un ab = {.sun_family = AF_UNIX};
	snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "elfuse-test-%d", getpid());
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ab.sun_path + 1);
	CHECK(bind(srv, (struct sockaddr *)&ab, al));
	cli = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(sendto(cli, "abstract", 8, 0, (struct sockaddr *)&ab, al));
	char buf[16];
	struct sockaddr_un from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	CHECK(n);
	printf("abstract dgram %.*s from unbound sender: len %u\n", (int)n, buf, fl);
	// Autobind: just the family.
	CHECK(bind(cli, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX}, sizeof(sa_family_t)));
	fl = sizeof from;
	CHECK(getsockname(cli, (struct sockaddr *)&from, &fl));
	printf("autobind: len %u abstract %d\n", fl, from.sun_path[0] == 0);
	close(cli);
	close(srv);
}

static void do_tcp_echo(void) {
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(srv);
	int one = 1;
	CHECK(setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(srv, (struct sockaddr *)&sa, sizeof sa));
	CHECK(listen(srv, 4));
	socklen_t l = sizeof sa;
	CHECK(getsockname(srv, (struct sockaddr *)&sa, &l));
	printf("listening: family %d len %u port nonzero %d\n", sa.sin_family, l, sa.sin_port != 0);
	int cli = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cli, (struct sockaddr *)&sa, sizeof sa));
	struct sockaddr_in peer;
	l = sizeof peer;
	int conn = accept(srv, (struct sockaddr *)&peer, &l);
	CHECK(conn);
	printf("accepted: %s len %u\n", inet_ntoa(peer.sin_addr), l);
	CHECK(setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	int v = 0;
	l = sizeof v;
	CHECK(getsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &v, &l));
	printf("TCP_NODELAY %d len %u\n", v != 0, l);
	for (int i = 0; i < 3; i++) {
		char buf[64], echo[64];
		int m = snprintf(buf, sizeof buf, "message %d", i);
		CHECK(send(cli, buf, m, 0));
		ssize_t n = recv(conn, echo, sizeof echo, 0);
		CHECK(n);
		CHECK(send(conn, echo, n, 0));
		n = recv(cli, buf, n, MSG_WAITALL);
		printf("echo %.*s\n", (int)n, buf);
	}
	close(cli);
	char c;
	printf("recv after close: %zd\n", recv(conn, &c, 1, 0));
	close(conn);
	// A port nobody listens on any more.
	close(srv);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	expect("connect to closed port", connect(cli, (struct sockaddr *)&sa, sizeof sa));
	close(cli);

	// Non-blocking connect: EINPROGRESS or 0, then poll and SO_ERROR.
	srv = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = 0;
	CHECK(bind(srv, (struct sockaddr *)&sa, sizeof sa));
	CHECK(listen(srv, 1));
	l = sizeof sa;
	CHECK(getsockname(srv, (struct sockaddr *)&sa, &l));
	cli = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(cli, (struct sockaddr *)&sa, sizeof sa);
	printf("nonblocking connect: %s\n", r == 0 || errno == EINPROGRESS ? "started" : errname(errno));
	struct pollfd pfd = {.fd = cli, .events = POLLOUT};
	CHECK(poll(&pfd, 1, 5000));
	int err = -1;
	l = sizeof err;
	CHECK(getsockopt(cli, SOL_SOCKET, SO_ERROR, &err, &l));
	printf("SO_ERROR %d\n", err);
	close(cli);
	close(srv);

	// UDP with source addresses.
	int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a1 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, a2 = a1, from;
	CHECK(bind(u1, (struct sockaddr *)&a1, sizeof a1));
	CHECK(bind(u2, (struct sockaddr *)&a2, sizeof a2));
	l = sizeof a1;
	CHECK(getsockname(u1, (struct sockaddr *)&a1, &l));
	l = sizeof a2;
	CHECK(getsockname(u2, (struct sockaddr *)&a2, &l));
	CHECK(sendto(u1, "datagram", 8, 0, (struct sockaddr *)&a2, sizeof a2));
	char buf[16];
	l = sizeof from;
	ssize_t n = recvfrom(u2, buf, sizeof buf, 0, (struct sockaddr *)&from, &l);
	CHECK(n);
	printf("udp %.*s from the sender's port %d\n", (int)n, buf, from.sin_port == a1.sin_port);
	close(u1);
	close(u2);
}

static void do_scm_rights(void) {
	int p[2], sv[2];
	CHECK(pipe(p));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(write(p[1], "through the pipe", 16));
	char data = 'x';
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = CMSG_SPACE(2 * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = {p[0], p[1]};
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	printf("sendmsg: %zd\n", sendmsg(sv[0], &msg, 0));
	close(p[0]);
	close(p[1]);

	memset(&u, 0, sizeof u);
	data = 0;
	msg.msg_controllen = sizeof u.buf;
	ssize_t n = recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC);
	CHECK(n);
	c = CMSG_FIRSTHDR(&msg);
	printf("recvmsg: %zd byte %c flags %#x controllen %zu level %d type %d len %zu\n", n, data, msg.msg_flags,
	       (size_t)msg.msg_controllen, c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
	memcpy(fds, CMSG_DATA(c), sizeof fds);
	printf("received fds %d %d cloexec %d\n", fds[0], fds[1], fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	CHECK(write(fds[1], "!", 1));
	char buf[32];
	n = read(fds[0], buf, sizeof buf);
	printf("read from received fd: %.*s\n", (int)n, buf);
	close(fds[0]);
	close(fds[1]);

	// A control buffer too small for both descriptors: MSG_CTRUNC.
	CHECK(pipe(p));
	memset(&u, 0, sizeof u);
	msg.msg_controllen = CMSG_SPACE(2 * sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), p, sizeof p);
	CHECK(sendmsg(sv[0], &msg, 0));
	close(p[0]);
	close(p[1]);
	memset(&u, 0, sizeof u);
	msg.msg_controllen = CMSG_SPACE(sizeof(int));
	n = recvmsg(sv[1], &msg, 0);
	CHECK(n);
	c = CMSG_FIRSTHDR(&msg);
	printf("small control: msg_flags %#x\n", msg.msg_flags);
	printf("small control: ctrunc %d controllen %zu fds %zu\n", !!(msg.msg_flags & MSG_CTRUNC),
	       (size_t)msg.msg_controllen, c ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0);
	if (c) {
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
		printf("got fd %d cloexec %d\n", fd, fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}

	// A bad descriptor in SCM_RIGHTS.
	memset(&u, 0, sizeof u);
	msg.msg_controllen = CMSG_SPACE(sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	int bad = 999;
	memcpy(CMSG_DATA(c), &bad, sizeof bad);
	expect("sendmsg bad fd", sendmsg(sv[0], &msg, 0));

	// Credentials: our own pid comes back as our pid.
	int one = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} cu;
	memset(&cu, 0, sizeof cu);
	struct msghdr cm = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cu.buf, .msg_controllen = sizeof cu.buf};
	c = CMSG_FIRSTHDR(&cm);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
	struct ucred cred = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	memcpy(CMSG_DATA(c), &cred, sizeof cred);
	CHECK(sendmsg(sv[0], &cm, 0));
	memset(&cu, 0, sizeof cu);
	cm.msg_controllen = sizeof cu.buf;
	CHECK(recvmsg(sv[1], &cm, 0));
	c = CMSG_FIRSTHDR(&cm);
	if (!c) {
		printf("no credentials received\n");
		exit(1);
	}
	memcpy(&cred, CMSG_DATA(c), sizeof cred);
	printf("SCM_CREDENTIALS type %d pid is ours %d uid is ours %d\n", c->cmsg_type, cred.pid == getpid(),
	       cred.uid == getuid());
	socklen_t l = sizeof cred;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &l));
	printf("SO_PEERCRED len %u pid is ours %d\n", l, cred.pid == getpid());
	close(sv[0]);
	close(sv[1]);
}

static void print_name(const char *what, int fd, int peer) {
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &l) : getsockname(fd, (struct sockaddr *)&ss, &l);
	if (r < 0) {
		printf("%s: %s\n", what, errname(errno));
		return;
	}
	printf("%s: family %d len %u\n", what, ss.ss_family, l);
}

static void do_names(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	print_name("socketpair name", sv[0], 0);
	print_name("socketpair peer", sv[0], 1);
	int s4 = socket(AF_INET, SOCK_DGRAM, 0);
	print_name("unbound inet name", s4, 0);
	print_name("unbound inet peer", s4, 1);
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s6 >= 0)
		print_name("unbound inet6 name", s6, 0);
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHECK(nl);
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	CHECK(bind(nl, (struct sockaddr *)&snl, sizeof snl));
	print_name("netlink name", nl, 0);
	// Ask the kernel for its links and count the replies' message types.
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
		 .g = {.rtgen_family = AF_UNSPEC}};
	CHECK(send(nl, &req, sizeof req, 0));
	int links = 0, done = 0;
	char buf[16384];
	while (!done) {
		ssize_t n = recv(nl, buf, sizeof buf, 0);
		CHECK(n);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				done = 1;
			else if (h->nlmsg_type == RTM_NEWLINK)
				links++;
		}
	}
	printf("netlink: links found %d\n", links > 0);
	print_name("pipe", 0, 0);
	expect("getsockname bad pointer", getsockname(sv[0], (void *)16, &(socklen_t){16}));
	expect("bind bad pointer", bind(s4, (void *)16, 16));
	expect("bind too long", bind(s4, (void *)&snl, 200));
	expect("send bad buffer", send(sv[0], (void *)16, 4, 0));
	CHECK(send(sv[1], "abcd", 4, 0));
	expect("recv bad buffer", recv(sv[0], (void *)16, 4, 0));
	// Raw: musl's recvmsg wrapper reads the msghdr itself.
	expect("recvmsg bad msghdr", syscall(SYS_recvmsg, sv[0], (void *)16, 0));
	expect("getsockopt bad level", getsockopt(sv[0], 12345, 1, buf, &(socklen_t){4}));
	expect("getsockopt bad level inet", getsockopt(s4, 12345, 1, buf, &(socklen_t){4}));
	expect("getsockopt SO_RCVBUF short", getsockopt(s4, SOL_SOCKET, SO_RCVBUF, buf, &(socklen_t){2}));
	expect("setsockopt SO_RCVBUF short", setsockopt(s4, SOL_SOCKET, SO_RCVBUF, buf, 2));
	expect("setsockopt negative len", setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, buf, -1));
	expect("accept bad flags", accept4(sv[0], NULL, NULL, 0x100));
}

static void do_mmsg(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	struct mmsghdr out[3];
	struct iovec oiov[3];
	const char *words[3] = {"alpha", "be", "gamma!"};
	memset(out, 0, sizeof out);
	for (int i = 0; i < 3; i++) {
		oiov[i] = (struct iovec){.iov_base = (void *)words[i], .iov_len = strlen(words[i])};
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	int n = sendmmsg(sv[0], out, 3, 0);
	printf("sendmmsg %d: lens %u %u %u\n", n, out[0].msg_len, out[1].msg_len, out[2].msg_len);
	struct mmsghdr in[4];
	struct iovec iiov[4];
	char bufs[4][16];
	memset(in, 0, sizeof in);
	for (int i = 0; i < 4; i++) {
		iiov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof bufs[i]};
		in[i].msg_hdr.msg_iov = &iiov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(sv[1], in, 4, MSG_WAITFORONE, NULL);
	printf("recvmmsg %d:", n);
	for (int i = 0; i < n; i++)
		printf(" %.*s", (int)in[i].msg_len, bufs[i]);
	printf("\n");
	expect("recvmmsg nonblocking empty", recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL));
	// Scatter and gather across several iovecs.
	struct iovec g[3] = {{"sca", 3}, {"tter", 4}, {"", 0}};
	struct msghdr m = {.msg_iov = g, .msg_iovlen = 3};
	CHECK(sendmsg(sv[0], &m, 0));
	char a[2], b[16];
	struct iovec s[2] = {{a, 2}, {b, sizeof b}};
	m = (struct msghdr){.msg_iov = s, .msg_iovlen = 2};
	ssize_t r = recvmsg(sv[1], &m, 0);
	printf("scatter %zd: %.2s|%.*s msg_flags %#x\n", r, a, (int)r - 2, b, m.msg_flags);
}

static void on_alarm(int sig) { (void)sig; }

static void do_interrupt(void) {
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_usec = 100000}};
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(srv);
	CHECK(bind(srv, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX}, sizeof(sa_family_t)));
	CHECK(listen(srv, 1));
	setitimer(ITIMER_REAL, &it, NULL);
	expect("accept interrupted", accept(srv, NULL, NULL));
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	setitimer(ITIMER_REAL, &it, NULL);
	char c;
	expect("recv interrupted", recv(sv[0], &c, 1, 0));
	struct timeval tv = {.tv_usec = 50000};
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	expect("recv with SO_RCVTIMEO", recv(sv[0], &c, 1, 0));

	// MSG_WAITALL: a signal after part of the data returns that part.
	CHECK(send(sv[1], "ab", 2, 0));
	setitimer(ITIMER_REAL, &it, NULL);
	char buf[8];
	tv.tv_usec = 0;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	expect("MSG_WAITALL interrupted after 2 bytes", recv(sv[0], buf, sizeof buf, MSG_WAITALL));
	CHECK(send(sv[1], "abc", 3, 0));
	setitimer(ITIMER_REAL, &it, NULL);
	struct iovec wv[2] = {{buf, 2}, {buf + 2, 6}};
	struct msghdr wm = {.msg_iov = wv, .msg_iovlen = 2};
	expect("recvmsg MSG_WAITALL interrupted after 3 bytes", recvmsg(sv[0], &wm, MSG_WAITALL));
	CHECK(send(sv[1], "12345678", 8, 0));
	ssize_t got = recvmsg(sv[0], &wm, MSG_WAITALL);
	printf("recvmsg MSG_WAITALL across iovecs: %zd %.8s\n", got, buf);

	// A TCP connect that waits: the listener's accept queue (backlog 0
	// holds one) is full, so the second SYN is dropped.
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(l, (struct sockaddr *)&in, sizeof in));
	CHECK(listen(l, 0));
	socklen_t il = sizeof in;
	CHECK(getsockname(l, (struct sockaddr *)&in, &il));
	int c1 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c1, (struct sockaddr *)&in, sizeof in));
	int c2 = socket(AF_INET, SOCK_STREAM, 0);
	setitimer(ITIMER_REAL, &it, NULL);
	expect("connect interrupted", connect(c2, (struct sockaddr *)&in, sizeof in));

	// A blocking send larger than the socket buffers, to a peer that never
	// reads: the signal ends it with the count sent so far.
	int big = 4 << 20;
	char *data = calloc(1, big);
	setitimer(ITIMER_REAL, &it, NULL);
	ssize_t n = send(sv[1], data, big, 0);
	printf("big send interrupted: %s\n", n > 0 && n < big ? "partial count" : errname(errno));
	setitimer(ITIMER_REAL, &it, NULL);
	expect("send with full buffers interrupted", send(sv[1], data, big, 0));
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	struct iovec two[2] = {{data, big / 2}, {data + big / 2, big / 2}};
	struct msghdr m = {.msg_iov = two, .msg_iovlen = 2};
	setitimer(ITIMER_REAL, &it, NULL);
	n = sendmsg(sp[0], &m, 0);
	printf("big sendmsg interrupted: %s\n", n > 0 && n < big ? "partial count" : errname(errno));
}

static void do_sigpipe(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	close(sv[1]);
	expect("send with MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL));
	send(sv[0], "x", 1, 0);
	printf("not reached: SIGPIPE kills\n");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "socketpair"))
		do_socketpair();
	else if (!strcmp(mode, "unix_stream"))
		do_unix_stream();
	else if (!strcmp(mode, "tcp_echo"))
		do_tcp_echo();
	else if (!strcmp(mode, "scm_rights"))
		do_scm_rights();
	else if (!strcmp(mode, "names"))
		do_names();
	else if (!strcmp(mode, "mmsg"))
		do_mmsg();
	else if (!strcmp(mode, "interrupt"))
		do_interrupt();
	else if (!strcmp(mode, "sigpipe"))
		do_sigpipe();
	else {
		printf("unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
