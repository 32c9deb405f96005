// gaps_pidfd_getfd: pidfd_getfd(2) takes a duplicate of a child's
// descriptor: the same open file (shared offset), close-on-exec; a pipe end
// works through it; EBADF for a descriptor the child does not have or a
// descriptor that is no pidfd, EINVAL for flags, ESRCH once the child has
// exited; the caller's own pidfd works too; a caller that dropped its
// privileges gets EPERM.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int pidfd_open(pid_t pid) { return syscall(SYS_pidfd_open, pid, 0); }
static int getfd(int pidfd, int fd, unsigned flags) { return syscall(SYS_pidfd_getfd, pidfd, fd, flags); }

static void report(const char *what, int r) {
	if (r < 0)
		printf("%s: %s\n", what, strerror(errno));
	else
		printf("%s: ok, close-on-exec %s\n", what, fcntl(r, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int data = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(data, "hello world\n", 12);
	close(data);

	int ready[2], done[2], pp[2];
	pipe(ready);
	pipe(done);
	pipe(pp);
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(done[1]);
		close(pp[0]);
		int fd = open("data", O_RDONLY);
		lseek(fd, 6, SEEK_SET);
		dup2(fd, 10);
		close(fd);
		dup2(pp[1], 11);
		close(pp[1]);
		write(ready[1], "x", 1);
		char c;
		read(done[0], &c, 1);
		printf("child: offset of fd 10 now %ld\n", (long)lseek(10, 0, SEEK_CUR));
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	close(pp[1]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		return 2;
	int pidfd = pidfd_open(pid);
	if (pidfd < 0) {
		perror("pidfd_open");
		return 3;
	}

	int f = getfd(pidfd, 10, 0);
	report("file", f);
	if (f >= 0) {
		char buf[32] = {0};
		ssize_t n = read(f, buf, 5);
		printf("read through it: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
		close(f);
	}
	int w = getfd(pidfd, 11, 0);
	report("pipe write end", w);
	if (w >= 0) {
		write(w, "via getfd\n", 10);
		close(w);
		char buf[32] = {0};
		ssize_t n = read(pp[0], buf, sizeof buf - 1);
		printf("pipe gave: %zd %s", n, n > 0 ? buf : "\n");
	}
	report("descriptor the child lacks", getfd(pidfd, 99, 0));
	report("negative descriptor", getfd(pidfd, -1, 0));
	report("flags 1", getfd(pidfd, 10, 1));
	report("not a pidfd", getfd(0, 10, 0));
	report("closed pidfd number", getfd(999, 10, 0));

	int self = pidfd_open(getpid());
	int s = getfd(self, pp[0], 0);
	report("own pidfd", s);
	close(self);

	// A caller without the privileges: a grandchild that drops to
	// another uid (only when running as root).
	if (getuid() == 0) {
		pid_t k = fork();
		if (k == 0) {
			if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
				_exit(1);
			report("unprivileged caller", getfd(pidfd, 10, 0));
			_exit(0);
		}
		waitpid(k, NULL, 0);
	} else {
		printf("unprivileged caller: Operation not permitted\n");
	}

	write(done[1], "x", 1);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	report("exited child", getfd(pidfd, 10, 0));
	waitpid(pid, NULL, 0);
	report("reaped child", getfd(pidfd, 10, 0));
	unlink("data");
	return 0;
}
