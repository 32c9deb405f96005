// proc_pdeathsig: PR_SET_PDEATHSIG. A grandchild that set it gets the
// signal when its parent (the middle process) ends: SIGUSR1 is taken with
// sigwaitinfo (SI_USER, from the ended parent), SIGKILL kills it. A
// grandchild that did not set it lives on.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

// run forks a middle process whose child sets sig (0: none) as its
// parent-death signal, then waits for it (SIGUSR1) or sleeps (else); the
// middle process ends once the grandchild is ready. It returns what the
// grandchild wrote to the pipe before it ended.
static void run(const char *what, int sig) {
	int res[2], ready[2];
	if (pipe(res) < 0 || pipe(ready) < 0)
		return;
	pid_t mid = fork();
	if (mid == 0) {
		pid_t me = getpid();
		pid_t g = fork();
		if (g == 0) {
			close(res[0]);
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, SIGUSR1);
			sigprocmask(SIG_BLOCK, &set, NULL);
			if (sig != 0)
				prctl(PR_SET_PDEATHSIG, sig);
			int got = -1;
			prctl(PR_GET_PDEATHSIG, &got);
			char buf[128];
			int n = snprintf(buf, sizeof buf, "%s: PR_GET_PDEATHSIG %d, parent alive %d\n", what, got, getppid() == me);
			write(res[1], buf, n);
			write(ready[1], "x", 1);
			if (sig == SIGUSR1) {
				siginfo_t si;
				int s = sigwaitinfo(&set, &si);
				n = snprintf(buf, sizeof buf, "%s: got %s, SI_USER %d, from the parent %d\n", what,
					     s == SIGUSR1 ? "SIGUSR1" : "?", si.si_code == SI_USER, si.si_pid == me);
				write(res[1], buf, n);
				_exit(0);
			}
			sleep(1);
			n = snprintf(buf, sizeof buf, "%s: survived\n", what);
			write(res[1], buf, n);
			_exit(0);
		}
		char c;
		read(ready[0], &c, 1);
		_exit(0);
	}
	close(res[1]);
	close(ready[1]);
	waitpid(mid, NULL, 0);
	char buf[512];
	ssize_t n, all = 0;
	while ((n = read(res[0], buf + all, sizeof buf - 1 - all)) > 0)
		all += n;
	buf[all] = 0;
	fputs(buf, stdout);
	if (sig == SIGKILL && strstr(buf, "survived") == NULL)
		printf("%s: killed\n", what);
	close(res[0]);
	close(ready[0]);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	run("SIGUSR1", SIGUSR1);
	run("SIGKILL", SIGKILL);
	run("none", 0);
	return 0;
}
