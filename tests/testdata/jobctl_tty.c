// jobctl_tty: terminal signals on a terminal's foreground group. Run as
// the session leader of a pseudo-terminal; the test types ^C and ^\ once
// "ready" shows, then "end". The program, a child in its process group
// and a child in a group of its own each count the SIGINT and SIGQUIT
// they get: the terminal sends them to the foreground group only, once.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t nint, nquit;

static void onsig(int sig) {
	if (sig == SIGINT)
		nint++;
	else
		nquit++;
}

static void await_signals(void) {
	while (nint < 1 || nquit < 1)
		usleep(1000);
}

int main(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onsig;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	int go[2], rep[2][2];
	if (pipe(go) < 0 || pipe(rep[0]) < 0 || pipe(rep[1]) < 0)
		return 1;
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			if (i == 1)
				setpgid(0, 0);
			close(go[1]);
			char c;
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			if (i == 0)
				await_signals();
			char line[80];
			int n = snprintf(line, sizeof line, "%s child: INT %d QUIT %d\n",
			                 i == 0 ? "same-group" : "own-group", (int)nint, (int)nquit);
			write(rep[i][1], line, n);
			_exit(0);
		}
		if (i == 1)
			setpgid(pid, pid);
		kids[i] = pid;
	}
	close(go[0]);
	close(rep[0][1]);
	close(rep[1][1]);
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	for (;;) {
		if (fgets(buf, sizeof buf, stdin) == NULL) {
			if (ferror(stdin) && errno == EINTR) {
				clearerr(stdin);
				continue;
			}
			break;
		}
		if (strcmp(buf, "end\n") == 0)
			break;
	}
	await_signals();
	close(go[1]);
	for (int i = 0; i < 2; i++) {
		waitpid(kids[i], NULL, 0);
		char line[80];
		ssize_t n = read(rep[i][0], line, sizeof line);
		if (n > 0)
			fwrite(line, 1, n, stdout);
	}
	printf("parent: INT %d QUIT %d\n", (int)nint, (int)nquit);
	return 0;
}
