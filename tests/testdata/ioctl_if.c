// Network-interface ioctls on a socket (struct ifreq): run in a fresh
// network namespace (natively under unshare --net, under elfuse with
// --net=none) where changing lo harms nobody. Prints what it sees of lo.
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd;

static int req(unsigned long r, struct ifreq *ifr, const char *name) {
	memset(ifr, 0, sizeof *ifr);
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	return ioctl(fd, r, ifr);
}

static void flags(const char *when) {
	struct ifreq ifr;
	if (req(SIOCGIFFLAGS, &ifr, "lo") < 0) {
		printf("%s: SIOCGIFFLAGS: %s\n", when, strerror(errno));
		return;
	}
	printf("%s: up=%d loopback=%d running=%d\n", when, !!(ifr.ifr_flags & IFF_UP),
	       !!(ifr.ifr_flags & IFF_LOOPBACK), !!(ifr.ifr_flags & IFF_RUNNING));
}

static void setflags(int up) {
	struct ifreq ifr;
	if (req(SIOCGIFFLAGS, &ifr, "lo") < 0) {
		printf("get: %s\n", strerror(errno));
		return;
	}
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		printf("SIOCSIFFLAGS %d: %s\n", up, strerror(errno));
}

static int mtu(void) {
	struct ifreq ifr;
	if (req(SIOCGIFMTU, &ifr, "lo") < 0)
		return -errno;
	return ifr.ifr_mtu;
}

int main(void) {
	struct ifreq ifr;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	flags("start");

	if (req(SIOCGIFINDEX, &ifr, "lo") < 0) {
		printf("SIOCGIFINDEX: %s\n", strerror(errno));
	} else {
		int idx = ifr.ifr_ifindex;
		memset(&ifr, 0, sizeof ifr);
		ifr.ifr_ifindex = idx;
		if (ioctl(fd, SIOCGIFNAME, &ifr) < 0)
			printf("SIOCGIFNAME: %s\n", strerror(errno));
		else
			printf("index %d names %s; if_nametoindex agrees: %d\n", idx, ifr.ifr_name,
			       if_nametoindex("lo") == (unsigned)idx);
	}
	if (req(SIOCGIFINDEX, &ifr, "nosuch0") < 0)
		printf("unknown interface: %s\n", strerror(errno));

	printf("mtu %d\n", mtu());
	int old = mtu();
	if (req(SIOCGIFMTU, &ifr, "lo") == 0) {
		ifr.ifr_mtu = 1500;
		if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
			printf("SIOCSIFMTU: %s\n", strerror(errno));
		printf("mtu after set %d\n", mtu());
		ifr.ifr_mtu = old;
		ioctl(fd, SIOCSIFMTU, &ifr);
		printf("mtu restored %d\n", mtu());
	}

	if (req(SIOCGIFADDR, &ifr, "lo") < 0) {
		printf("SIOCGIFADDR: %s\n", strerror(errno));
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
		printf("addr family %d %s\n", sin->sin_family, inet_ntoa(sin->sin_addr));
	}
	if (req(SIOCGIFNETMASK, &ifr, "lo") < 0) {
		printf("SIOCGIFNETMASK: %s\n", strerror(errno));
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_netmask;
		printf("netmask %s\n", inet_ntoa(sin->sin_addr));
	}
	if (req(SIOCGIFHWADDR, &ifr, "lo") < 0)
		printf("SIOCGIFHWADDR: %s\n", strerror(errno));
	else
		printf("hwaddr family %d\n", ifr.ifr_hwaddr.sa_family);

	char buf[1024];
	struct ifconf ifc = {.ifc_len = sizeof buf, .ifc_buf = buf};
	if (ioctl(fd, SIOCGIFCONF, &ifc) < 0) {
		printf("SIOCGIFCONF: %s\n", strerror(errno));
	} else {
		int n = ifc.ifc_len / (int)sizeof(struct ifreq);
		printf("ifconf %d entries:", n);
		for (int i = 0; i < n; i++)
			printf(" %s", ifc.ifc_req[i].ifr_name);
		printf("\n");
	}

	setflags(0);
	flags("down");
	setflags(1);
	flags("up again");

	errno = 0;
	if (ioctl(fd, SIOCGIFFLAGS, (void *)8) < 0)
		printf("bad pointer: %s\n", strerror(errno));
	errno = 0;
	if (ioctl(fd, SIOCSIFFLAGS, (void *)8) < 0)
		printf("bad pointer set: %s\n", strerror(errno));
	return 0;
}
