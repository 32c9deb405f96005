/* trace.c: a small, deterministic program whose syscalls tests/trace_test.go
 * traces natively with strace and under elfuse --trace. It opens a missing
 * and an existing file, reads (also into a bad pointer), writes, uses a
 * pipe, forks, waits and exits with a status that depends on the child's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	got = sig;
}

int main(void)
{
	char buf[64];
	int fd = open("/nonexistent/elfuse-trace-missing", O_RDONLY);
	if (fd >= 0)
		return 1;
	fd = open("trace-input.txt", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 2;
	/* A bad buffer: EFAULT, printed as the address. */
	void *volatile bad = (void *)16;
	if (read(fd, bad, 8) != -1 || errno != EFAULT)
		return 3;
	ssize_t n = read(fd, buf, sizeof buf);
	if (n <= 0)
		return 4;
	if (lseek(fd, 6, SEEK_SET) != 6)
		return 8;
	close(fd);
	write(1, buf, n);

	/* Descriptor flags: F_GETFD before and after F_SETFD, F_GETFL. */
	if (dup2(1, 10) != 10)
		return 9;
	fcntl(10, F_GETFD);
	fcntl(10, F_SETFD, FD_CLOEXEC);
	fcntl(10, F_GETFD);
	close(10);

	/* A caught signal: rt_sigaction, kill, the --- line, rt_sigreturn. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	kill(getpid(), SIGUSR1);
	if (got != SIGUSR1)
		return 10;
	write(-1, "bad descriptor", 14);

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return 5;
	pid_t pid = fork();
	if (pid < 0)
		return 6;
	if (pid == 0) {
		close(p[0]);
		write(p[1], "child says \"hi\"\n", 16);
		_exit(3);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof buf);
	if (n > 0)
		write(1, buf, n);
	n = read(p[0], buf, sizeof buf); /* EOF: the child is gone */
	close(p[0]);
	int status;
	if (wait4(pid, &status, 0, NULL) != pid || !WIFEXITED(status))
		return 7;
	return 10 + WEXITSTATUS(status);
}
