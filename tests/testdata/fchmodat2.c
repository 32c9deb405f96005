// fchmodat2: its flags (AT_SYMLINK_NOFOLLOW on a file and on a symlink,
// AT_EMPTY_PATH on an O_PATH descriptor, an unknown flag).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
static void r(const char *w, long v) { printf("%s: %s\n", w, v < 0 ? strerror(errno) : "ok"); }
int main(void) {
	unlink("fcf"); unlink("fcl");
	close(open("fcf", O_CREAT | O_WRONLY, 0644)); symlink("fcf", "fcl");
	r("nofollow file", syscall(452, AT_FDCWD, "fcf", 0600, AT_SYMLINK_NOFOLLOW));
	r("nofollow symlink", syscall(452, AT_FDCWD, "fcl", 0600, AT_SYMLINK_NOFOLLOW));
	r("follow symlink", syscall(452, AT_FDCWD, "fcl", 0640, 0));
	int fd = open("fcf", O_PATH);
	r("empty path", syscall(452, fd, "", 0604, AT_EMPTY_PATH));
	r("bad flag", syscall(452, AT_FDCWD, "fcf", 0600, 0x1));
	struct stat st; stat("fcf", &st); printf("mode %o\n", st.st_mode & 07777);
	unlink("fcf"); unlink("fcl");
	return 0;
}
