// files: the file-descriptor and path system calls, with results printed
// as values and errno names so native and elfuse runs compare exactly.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *en(int e) {
	static char buf[16];
	switch (e) {
	case 0: return "ok";
	case EBADF: return "EBADF";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case EAGAIN: return "EAGAIN";
	case ESPIPE: return "ESPIPE";
	case ELOOP: return "ELOOP";
	case EACCES: return "EACCES";
	case EPIPE: return "EPIPE";
	case EXDEV: return "EXDEV";
	}
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

#define SHOW(what, expr)                                                \
	do {                                                            \
		errno = 0;                                              \
		long r_ = (long)(expr);                                 \
		printf("%-36s = %ld %s\n", what, r_, r_ < 0 ? en(errno) : ""); \
	} while (0)

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	umask(022);
	// open, write, read, lseek, pread/pwrite, readv/writev.
	int fd = open("f.txt", O_RDWR | O_CREAT | O_EXCL, 0640);
	SHOW("open O_CREAT|O_EXCL", fd >= 0 ? 0 : -1);
	SHOW("open again O_EXCL", open("f.txt", O_RDWR | O_CREAT | O_EXCL, 0640));
	SHOW("write", write(fd, "hello, world\n", 13));
	SHOW("lseek SEEK_CUR", lseek(fd, 0, SEEK_CUR));
	SHOW("lseek SEEK_SET 7", lseek(fd, 7, SEEK_SET));
	char buf[256] = {0};
	SHOW("read", read(fd, buf, sizeof buf));
	printf("read got %s", buf);
	SHOW("pwrite at 100 (hole)", pwrite(fd, "tail", 4, 100));
	SHOW("lseek SEEK_END", lseek(fd, 0, SEEK_END));
	memset(buf, 'x', sizeof buf);
	SHOW("pread from 10", pread(fd, buf, 8, 10));
	printf("pread bytes: %02x %02x %02x %02x\n", buf[0], buf[1], buf[3], buf[5]);
	struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
	lseek(fd, 0, SEEK_END);
	SHOW("writev", writev(fd, iov, 3));
	char a[5] = {0}, b[9] = {0};
	struct iovec riov[2] = {{a, 4}, {b, 8}};
	lseek(fd, 0, SEEK_SET);
	SHOW("readv", readv(fd, riov, 2));
	printf("readv: [%s] [%s]\n", a, b);
	SHOW("ftruncate 50", ftruncate(fd, 50));
	struct stat st;
	fstat(fd, &st);
	printf("fstat: size=%lld mode=%o nlink=%ld regular=%d\n", (long long)st.st_size, st.st_mode & 07777,
	       (long)st.st_nlink, S_ISREG(st.st_mode));
	SHOW("fsync", fsync(fd));
	SHOW("fdatasync", fdatasync(fd));

	// Descriptor table: dup, dup2, dup3, fcntl flags, close.
	int d = dup(fd);
	SHOW("dup is lowest free", d == fd + 1);
	SHOW("dup2 to 10", dup2(fd, 10));
	SHOW("dup3 O_CLOEXEC to 11", dup3(fd, 11, O_CLOEXEC));
	SHOW("fcntl F_GETFD 11", fcntl(11, F_GETFD));
	SHOW("fcntl F_GETFD 10", fcntl(10, F_GETFD));
	SHOW("dup3 same fd", dup3(10, 10, 0));
	SHOW("fcntl F_DUPFD_CLOEXEC >= 20", fcntl(fd, F_DUPFD_CLOEXEC, 20));
	SHOW("F_GETFL access mode", fcntl(fd, F_GETFL) & O_ACCMODE);
	SHOW("F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
	SHOW("F_GETFL has O_APPEND", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
	SHOW("shared offset: lseek via dup", lseek(d, 3, SEEK_SET));
	SHOW("shared offset: seen by original", lseek(fd, 0, SEEK_CUR));
	SHOW("close", close(d));
	SHOW("close again", close(d));
	SHOW("read closed fd", read(d, buf, 1));
	SHOW("fstat bad fd", fstat(9999, &st));
	SHOW("close -1", close(-1));

	// Pipes and poll.
	int p[2];
	SHOW("pipe2 O_NONBLOCK", pipe2(p, O_NONBLOCK | O_CLOEXEC));
	SHOW("read empty nonblocking pipe", read(p[0], buf, 1));
	struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
	SHOW("poll (write end ready)", poll(pf, 2, 0));
	printf("revents: %d %d\n", pf[0].revents, pf[1].revents);
	write(p[1], "ping", 4);
	pf[0].revents = pf[1].revents = 0;
	SHOW("poll after write", poll(pf, 2, 100));
	printf("revents: %d %d\n", pf[0].revents, pf[1].revents);
	SHOW("lseek on pipe", lseek(p[0], 0, SEEK_SET));
	memset(buf, 0, sizeof buf);
	SHOW("read pipe", read(p[0], buf, sizeof buf));
	printf("pipe said %s\n", buf);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	SHOW("write to widowed pipe", write(p[1], "x", 1));
	close(p[1]);

	// Paths: mkdir, rename, link, symlink, unlink, rmdir, access, stat.
	SHOW("mkdir d", mkdir("d", 0750));
	SHOW("mkdir d again", mkdir("d", 0750));
	SHOW("mkdir d/e/f (no parent)", mkdir("d/e/f", 0755));
	SHOW("rename f.txt d/g.txt", rename("f.txt", "d/g.txt"));
	SHOW("link", link("d/g.txt", "d/h.txt"));
	SHOW("symlink", symlink("g.txt", "d/s"));
	SHOW("symlink loop", symlink("loop", "loop"));
	SHOW("open symlink loop", open("loop", O_RDONLY));
	SHOW("open O_NOFOLLOW on symlink", open("d/s", O_RDONLY | O_NOFOLLOW));
	char lnk[64] = {0};
	SHOW("readlink", readlink("d/s", lnk, sizeof lnk));
	printf("link target %s\n", lnk);
	SHOW("readlink on a file", readlink("d/g.txt", lnk, sizeof lnk));
	stat("d/h.txt", &st);
	printf("nlink after link=%ld\n", (long)st.st_nlink);
	struct stat lst;
	SHOW("lstat symlink", lstat("d/s", &lst));
	printf("lstat: is link=%d size=%lld\n", S_ISLNK(lst.st_mode), (long long)lst.st_size);
	SHOW("fstatat AT_SYMLINK_NOFOLLOW", fstatat(AT_FDCWD, "d/s", &lst, AT_SYMLINK_NOFOLLOW));
	SHOW("access R_OK", access("d/g.txt", R_OK));
	SHOW("access missing", access("nope", F_OK));
	SHOW("open dir for writing", open("d", O_WRONLY));
	SHOW("open file as dir", open("d/g.txt/x", O_RDONLY));
	SHOW("rmdir nonempty", rmdir("d"));
	SHOW("unlink dir", unlink("d"));
	SHOW("chmod 0600", chmod("d/g.txt", 0600));
	stat("d/g.txt", &st);
	printf("mode after chmod=%o\n", st.st_mode & 07777);
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	SHOW("openat relative to dir fd", openat(dfd, "g.txt", O_RDONLY) >= 0);
	SHOW("mkdirat", mkdirat(dfd, "sub", 0700));
	SHOW("renameat2 RENAME_NOREPLACE", syscall(SYS_renameat2, dfd, "h.txt", dfd, "g.txt", 1));
	SHOW("unlinkat", unlinkat(dfd, "h.txt", 0));
	SHOW("unlinkat AT_REMOVEDIR", unlinkat(dfd, "sub", AT_REMOVEDIR));
	SHOW("fchmodat", fchmodat(dfd, "g.txt", 0644, 0));

	// Directory listing (sorted: readdir order is the file system's).
	for (int i = 0; i < 5; i++) {
		char n[32];
		snprintf(n, sizeof n, "d/file%d", i);
		close(open(n, O_CREAT | O_WRONLY, 0644));
	}
	DIR *dir = opendir("d");
	char *names[64];
	int nn = 0;
	struct dirent *de;
	while ((de = readdir(dir)) && nn < 64)
		names[nn++] = strdup(de->d_name);
	closedir(dir);
	qsort(names, nn, sizeof names[0], cmpstr);
	printf("readdir %d entries:", nn);
	for (int i = 0; i < nn; i++)
		printf(" %s", names[i]);
	printf("\n");

	// cwd: chdir, fchdir; print only the last component.
	char cwd[4096];
	SHOW("chdir d", chdir("d"));
	getcwd(cwd, sizeof cwd);
	printf("cwd ends in /d: %d\n", strlen(cwd) > 2 && strcmp(cwd + strlen(cwd) - 2, "/d") == 0);
	SHOW("open relative to new cwd", open("g.txt", O_RDONLY) >= 0);
	SHOW("chdir ..", chdir(".."));
	SHOW("fchdir", fchdir(dfd));
	SHOW("chdir to a file", chdir("g.txt"));
	chdir("..");
	SHOW("getcwd small buffer", getcwd(cwd, 2) == NULL ? -1 : 0);

	// Devices and ttys.
	int nul = open("/dev/null", O_RDWR);
	SHOW("write /dev/null", write(nul, "abc", 3));
	SHOW("read /dev/null", read(nul, buf, 10));
	int zero = open("/dev/zero", O_RDONLY);
	memset(buf, 1, 16);
	SHOW("read /dev/zero", read(zero, buf, 16));
	printf("zeros=%d\n", buf[0] == 0 && buf[15] == 0);
	struct winsize ws;
	SHOW("TIOCGWINSZ on a file", ioctl(fd, TIOCGWINSZ, &ws));
	SHOW("isatty(file)", isatty(fd));
	SHOW("isatty(stdout)", isatty(1));
	SHOW("FIONREAD on /dev/null", ioctl(nul, FIONREAD, &d));
	return 0;
}
