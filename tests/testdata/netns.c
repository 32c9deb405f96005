/* netns: what a program sees of the network namespace it runs in.
 *
 *   ifaces          the interfaces by if_nameindex (netlink) and by
 *                   SIOCGIFCONF (those with an IPv4 address), and lo's
 *                   IFF_UP/IFF_RUNNING flags
 *   loopback        a TCP listener on 127.0.0.1 reached by a fork child
 *   loopback_exec   the same, the child exec'ing this program as a client
 *   client PORT     (loopback_exec's child) connect, send, print the echo
 *   unreach         connect() to non-local addresses: TCP and UDP, IPv4
 *                   and IPv6 (documentation ranges) */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "result.h"

static void ifaces(void)
{
	struct if_nameindex *ni = if_nameindex();
	if (!ni) {
		printf("if_nameindex failed errno=%d\n", errno);
		exit(1);
	}
	for (struct if_nameindex *p = ni; p->if_index; p++)
		printf("if_nameindex: %s\n", p->if_name);
	if_freenameindex(ni);

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq reqs[64];
	struct ifconf ifc = {.ifc_len = sizeof(reqs), .ifc_req = reqs};
	result("SIOCGIFCONF", ioctl(s, SIOCGIFCONF, &ifc));
	for (int i = 0; i < ifc.ifc_len / (int)sizeof(struct ifreq); i++) {
		char addr[INET_ADDRSTRLEN];
		struct sockaddr_in *sin = (struct sockaddr_in *)&reqs[i].ifr_addr;
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		printf("SIOCGIFCONF: %s %s\n", reqs[i].ifr_name, addr);
	}
	struct ifreq lo;
	memset(&lo, 0, sizeof(lo));
	strcpy(lo.ifr_name, "lo");
	result("SIOCGIFFLAGS lo", ioctl(s, SIOCGIFFLAGS, &lo));
	printf("lo up=%d running=%d loopback=%d\n", !!(lo.ifr_flags & IFF_UP),
	       !!(lo.ifr_flags & IFF_RUNNING), !!(lo.ifr_flags & IFF_LOOPBACK));
	close(s);
}

static int listener(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0) {
		printf("listener failed errno=%d\n", errno);
		exit(1);
	}
	*port = ntohs(a.sin_port);
	return s;
}

static int client(int port)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("child: connect errno=%d\n", errno);
		return 1;
	}
	const char msg[] = "hello over loopback";
	write(c, msg, sizeof(msg) - 1);
	char buf[64];
	ssize_t n = read(c, buf, sizeof(buf) - 1);
	if (n < 0) {
		printf("child: read errno=%d\n", errno);
		return 1;
	}
	buf[n] = 0;
	printf("child: got back \"%s\"\n", buf);
	return 0;
}

static void on_child(int sig)
{
	(void)sig;
}

static void loopback(int exec_child, const char *self)
{
	int port;
	int s = listener(&port);
	/* A child that cannot connect exits before the parent accepts: the
	 * SIGCHLD (no SA_RESTART) ends accept with EINTR instead of leaving
	 * it waiting forever. A child that connected waits for the echo. */
	struct sigaction sa = {.sa_handler = on_child};
	sigaction(SIGCHLD, &sa, NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(s);
		if (exec_child) {
			char p[16];
			snprintf(p, sizeof(p), "%d", port);
			execl(self, self, "client", p, (char *)0);
			printf("child: exec errno=%d\n", errno);
			_exit(1);
		}
		_exit(client(port));
	}
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int c = accept(s, (struct sockaddr *)&peer, &len);
	if (c < 0) {
		int st, e = errno;
		waitpid(pid, &st, 0);
		printf("parent: accept errno=%d; child exited %d\n", e,
		       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		exit(1);
	}
	char addr[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof(addr));
	char buf[64];
	ssize_t n = read(c, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] -= 'a' - 'A';
	write(c, buf, n > 0 ? n : 0);
	close(c);
	int st;
	waitpid(pid, &st, 0);
	printf("parent: accepted from %s, %zd bytes; child exited %d\n", addr, n,
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void try_connect(const char *label, int family, int type, const char *addr)
{
	int s = socket(family, type, 0);
	int r;
	if (family == AF_INET) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
		inet_pton(AF_INET, addr, &a.sin_addr);
		r = connect(s, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
		inet_pton(AF_INET6, addr, &a.sin6_addr);
		r = connect(s, (struct sockaddr *)&a, sizeof(a));
	}
	printf("%s %s: %d errno=%s\n", label, addr, r,
	       r < 0 && errno == ENETUNREACH ? "ENETUNREACH" : r < 0 ? strerror(errno) : "0");
	close(s);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "ifaces"))
		ifaces();
	else if (!strcmp(argv[1], "loopback"))
		loopback(0, argv[0]);
	else if (!strcmp(argv[1], "loopback_exec"))
		loopback(1, argv[0]);
	else if (!strcmp(argv[1], "client") && argc > 2)
		return client(atoi(argv[2]));
	else if (!strcmp(argv[1], "unreach")) {
		try_connect("tcp", AF_INET, SOCK_STREAM, "192.0.2.1");
		try_connect("udp", AF_INET, SOCK_DGRAM, "198.51.100.7");
		try_connect("tcp6", AF_INET6, SOCK_STREAM, "2001:db8::1");
	} else
		return 2;
	return 0;
}
