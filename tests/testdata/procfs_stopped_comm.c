/* A stopped process's /proc shows the name it gave itself with
 * PR_SET_NAME (comm, status Name:, stat's second field) and state T, as
 * the running one does. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
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

int main(void)
{
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
	return 0;
}
