/* procfs_signalfd: a signalfd as /proc shows it. Its link reads
 * anon_inode:[signalfd] through readlink of /proc/self/fd/N, in ls -l of
 * the process's fd directory listed by another process, and through
 * /proc/<pid>/fd/N read by a child; /proc/self/fdinfo/N and the child's
 * read of /proc/<parent>/fdinfo/N show the mask (sigmask:). An update of
 * the mask through signalfd(fd, ...) shows too. Prints only the lines
 * that do not vary between runs (not mnt_id, ino). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void fdinfo(const char *label, int pid, int fd)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		printf("%s: cannot open fdinfo\n", label);
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "pos:", 4) == 0 || strncmp(line, "flags:", 6) == 0 ||
		    strncmp(line, "sigmask:", 8) == 0 || strncmp(line, "eventfd", 7) == 0)
			printf("%s: %s", label, line);
	}
	fclose(f);
}

static void showlink(const char *label, int pid, int fd)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("%s: %d -> %s\n", label, fd, buf);
}

int main(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGCHLD);
	sigaddset(&m, SIGRTMIN + 3);
	sigaddset(&m, SIGKILL); /* dropped, as Linux drops it */
	sigprocmask(SIG_BLOCK, &m, NULL);
	int fd = signalfd(-1, &m, SFD_CLOEXEC);
	if (fd < 0) {
		perror("signalfd");
		return 1;
	}
	showlink("self", getpid(), fd);
	fdinfo("self", getpid(), fd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd | grep signalfd | sed 's/ .* %d -> / %d -> /'", getpid(), fd, fd);
	fflush(stdout);
	if (system(cmd) != 0)
		printf("ls found no signalfd\n");

	/* A second signalfd with another mask, not close-on-exec and
	 * non-blocking, and the first one's mask changed. */
	sigset_t m2;
	sigemptyset(&m2);
	sigaddset(&m2, SIGTERM);
	int fd2 = signalfd(-1, &m2, SFD_NONBLOCK);
	sigaddset(&m2, SIGHUP);
	signalfd(fd, &m2, 0);
	fdinfo("second", getpid(), fd2);
	fdinfo("updated", getpid(), fd);

	int parent = getpid();
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		showlink("child", parent, fd2);
		fdinfo("child", parent, fd2);
		fdinfo("child", parent, fd);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child status %d\n", st);
	return 0;
}
