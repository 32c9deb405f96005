// ns_ioctl: the namespace files of /proc/self/ns and their ioctls
// (ioctl_ns(2)): the type of each, the user namespace that owns one and
// its owner, and the parent of the initial user namespace (EPERM).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_GET_USERNS 0xb701
#define NS_GET_PARENT 0xb702
#define NS_GET_NSTYPE 0xb703
#define NS_GET_OWNER_UID 0xb704

int main(void) {
	const char *names[] = {"net", "mnt", "uts", "ipc", "user", "cgroup"};
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/self/ns/%s", names[i]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("%s: open: %s\n", names[i], strerror(errno));
			continue;
		}
		int type = ioctl(fd, NS_GET_NSTYPE);
		struct stat a, b;
		fstat(fd, &a);
		stat(p, &b);
		printf("%s: type %#x, same inode by path and descriptor %d, cloexec %d\n", names[i], type,
		       a.st_ino == b.st_ino, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
		close(fd);
	}
	int net = open("/proc/self/ns/net", O_RDONLY);
	int owner = ioctl(net, NS_GET_USERNS);
	struct stat o, u;
	fstat(owner, &o);
	stat("/proc/self/ns/user", &u);
	printf("owner of net is our user namespace: %d, cloexec %d\n", o.st_ino == u.st_ino,
	       (fcntl(owner, F_GETFD) & FD_CLOEXEC) != 0);
	uid_t uid = 12345;
	int r = ioctl(owner, NS_GET_OWNER_UID, &uid);
	printf("owner uid: %d (%d)\n", r, (int)uid);
	int parent = ioctl(owner, NS_GET_PARENT);
	printf("parent of the initial user namespace: %d %s\n", parent, parent < 0 ? strerror(errno) : "");
	r = ioctl(net, NS_GET_OWNER_UID, &uid);
	printf("owner uid of a net namespace: %d %s\n", r, r < 0 ? strerror(errno) : "");
	return 0;
}
