// jobctl_suspend: a program suspended from its terminal the way editors
// do it: its SIGTSTP handler says so, restores the default action and
// stops itself; its SIGCONT handler says when it runs again. It reads
// lines until "end", echoing each (the test waits for that before ^Z,
// which flushes the terminal's unread input).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void oncont(int sig) { write(1, "continued\n", 10); }

static void ontstp(int sig) {
	write(1, "suspending\n", 11);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGTSTP, &dfl, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	raise(SIGTSTP);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ontstp;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTSTP, &sa, NULL);
}

int main(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = oncont;
	sigaction(SIGCONT, &sa, NULL);
	sa.sa_handler = ontstp;
	sigaction(SIGTSTP, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	int lines = 0;
	while (fgets(buf, sizeof buf, stdin) != NULL && strcmp(buf, "end\n") != 0) {
		lines++;
		printf("got %s", buf);
		fflush(stdout);
	}
	printf("done after %d lines\n", lines);
	return 0;
}
