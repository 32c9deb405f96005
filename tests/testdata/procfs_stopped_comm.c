/* A stopped process's /proc shows the name it gave itself with
 * PR_SET_NAME (comm, status Name:, stat's second field) and state T, as
 * the running one does: stopped by its own SIGSTOP, by its parent's, and
 * after an exec through a symlink of another name. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(pid_t pid, const char *file)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%s: cannot open\n", file);
		return;
	}
	if (!fgets(buf, sizeof buf, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	if (!strcmp(file, "stat")) { /* pid (comm) state ...: keep comm and state */
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (l && r && r[1] && r[2])
			printf("stat: %.*s %c\n", (int)(r - l + 1), l, r[2]);
		return;
	}
	printf("%s: %s\n", file, buf);
}

static void stopped_by_parent(pid_t c)
{
	int st;
	usleep(100 * 1000); /* let it rename itself or exec */
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	printf("stopped by the parent: %d\n", WIFSTOPPED(st));
	show(c, "comm");
	show(c, "stat");
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "wait")) {
		pause();
		return 0;
	}
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		prctl(PR_SET_NAME, "renamed-job");
		raise(SIGSTOP);
		_exit(3);
	}
	int st;
	waitpid(c, &st, WUNTRACED);
	printf("stopped: %d\n", WIFSTOPPED(st));
	show(c, "comm");
	show(c, "status");
	show(c, "stat");
	kill(c, SIGCONT);
	waitpid(c, &st, 0);
	printf("exit: %d\n", WEXITSTATUS(st));

	c = fork();
	if (c == 0) {
		prctl(PR_SET_NAME, "named-then-held");
		for (;;)
			pause();
	}
	stopped_by_parent(c);

	char exe[512], link[] = "/tmp/stopped-comm-XXXXXX";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0 || !mkdtemp(link))
		return 1;
	exe[n] = 0;
	char name[600];
	snprintf(name, sizeof name, "%s/exec-name", link);
	if (symlink(exe, name) != 0)
		return 1;
	fflush(stdout);
	c = fork();
	if (c == 0) {
		execl(name, "argv0", "wait", (char *)0);
		_exit(127);
	}
	stopped_by_parent(c);
	unlink(name);
	rmdir(link);
	return 0;
}
