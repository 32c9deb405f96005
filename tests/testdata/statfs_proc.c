// statfs_proc: the file system /proc and its files report, by path
// (statfs) and by descriptor (fstatfs), is procfs; /dev's and /dev/shm's
// are the host's (devtmpfs and tmpfs on Linux).
#include <fcntl.h>
#include <stdio.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PROC_SUPER_MAGIC 0x9fa0

static void by_path(const char *p) {
	struct statfs s;
	if (statfs(p, &s) < 0) {
		printf("statfs %s: failed\n", p);
		return;
	}
	printf("statfs %s: procfs %d, block size %ld\n", p, s.f_type == PROC_SUPER_MAGIC, (long)s.f_bsize);
}

static void by_fd(const char *p, int flags) {
	int fd = open(p, O_RDONLY | flags);
	struct statfs s;
	if (fd < 0 || fstatfs(fd, &s) < 0) {
		printf("fstatfs %s: failed\n", p);
		return;
	}
	printf("fstatfs %s: procfs %d, block size %ld\n", p, s.f_type == PROC_SUPER_MAGIC, (long)s.f_bsize);
	close(fd);
}

// type_of prints the file system type of p by path and by descriptor.
static void type_of(const char *p, int flags) {
	struct statfs a, b;
	int fd = open(p, O_RDONLY | flags);
	if (statfs(p, &a) < 0 || fd < 0 || fstatfs(fd, &b) < 0) {
		printf("type of %s: failed\n", p);
		return;
	}
	printf("type of %s: %#lx by path, %#lx by descriptor\n", p, (long)a.f_type, (long)b.f_type);
	close(fd);
}

int main(void) {
	by_path("/proc");
	by_path("/proc/self/status");
	by_fd("/proc/self/status", 0);
	by_fd("/proc/uptime", 0);
	by_fd("/proc", O_DIRECTORY);
	by_fd("/proc/self", O_DIRECTORY);
	// Not procfs: a regular file.
	by_fd("/etc/passwd", 0);
	type_of("/dev", O_DIRECTORY);
	type_of("/dev/shm", O_DIRECTORY);
	type_of("/dev/null", 0);
	return 0;
}
