/* A stopped process's /proc shows what it shows running: its descriptors
 * (fd/ and fdinfo/), signal masks, command line, environment, memory map,
 * limits, cwd and exe, with state T; and the signals sent to it while it
 * is stopped as pending (SigPnd for one sent to the thread, ShdPnd for the
 * process), except those it ignores, until SIGCONT lets the first one
 * act. Stopped by its parent's SIGSTOP, and by its own. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; }

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r;
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return (int)n;
}

/* show_as prints, labelled, the lines of /proc/PID/FILE that start with
 * one of keys. */
static void show_as(pid_t pid, const char *file, const char *label, const char *const *keys)
{
	char path[64], buf[65536];
	snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
	if (read_file(path, buf, sizeof buf) < 0) {
		printf("%s: cannot open\n", label);
		return;
	}
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		for (const char *const *k = keys; *k; k++)
			if (!strncmp(line, *k, strlen(*k)))
				printf("%s: %s\n", label, line);
}

static void show(pid_t pid, const char *file, const char *const *keys) { show_as(pid, file, file, keys); }

static void link_base(pid_t pid, const char *name)
{
	char path[64], target[512];
	snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0) {
		printf("%s: no link\n", name);
		return;
	}
	target[n] = 0;
	if (!strncmp(target, "pipe:[", 6)) { /* inode numbers differ */
		printf("%s -> pipe\n", name);
		return;
	}
	const char *base = strrchr(target, '/');
	printf("%s -> %s\n", name, base ? base + 1 : target);
}

static void look(pid_t pid)
{
	static const char *const status[] = {"State", "Threads", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", NULL};
	static const char *const fdinfo[] = {"pos", "flags", NULL};
	static const char *const limits[] = {"Max open files", "Max stack size", NULL};
	static const char *const self[] = {"", NULL};
	char path[64], buf[65536], mine[65536];

	/* The descriptors: the inherited ones and the child's own. */
	snprintf(path, sizeof path, "/proc/%d/fd/9", pid);
	printf("fd 9: %s\n", access(path, F_OK) == 0 ? "there" : "missing");
	link_base(pid, "fd/9");
	link_base(pid, "fd/10");
	show(pid, "fdinfo/9", fdinfo);
	show(pid, "status", status);
	char task[64];
	snprintf(task, sizeof task, "task/%d/status", pid);
	show_as(pid, task, "task status", status); /* its thread's, the same */
	show(pid, "limits", limits);
	char cwd[512], mycwd[512];
	snprintf(path, sizeof path, "/proc/%d/cwd", pid);
	ssize_t k = readlink(path, cwd, sizeof cwd - 1);
	cwd[k > 0 ? k : 0] = 0;
	printf("cwd as the parent's: %d\n", k > 0 && getcwd(mycwd, sizeof mycwd) && !strcmp(cwd, mycwd));
	link_base(pid, "exe");
	show(pid, "cmdline", self);
	/* A fork child's environment and map are its parent's. */
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	int n = read_file(path, buf, sizeof buf), m = read_file("/proc/self/environ", mine, sizeof mine);
	printf("environ as the parent's: %d\n", n > 0 && n == m && !memcmp(buf, mine, n));
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	n = read_file(path, buf, sizeof buf);
	printf("maps name the program: %d\n", n > 0 && strstr(buf, "procfs_stopped_files") != NULL);
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof buf) > 0) {
		char *r = strrchr(buf, ')');
		printf("stat state: %c\n", r && r[1] && r[2] ? r[2] : '?');
	}
}

/* child sets up what look shows, tells the parent, and waits (or stops
 * itself when self). */
static void child(int ready, int self)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, on_term);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = open("stopped-files.txt", O_RDWR | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || dup2(fd, 9) < 0)
		_exit(2);
	if (lseek(9, 0, SEEK_END) < 0 || write(9, "abc", 3) != 3)
		_exit(2);
	int p[2];
	if (pipe(p) || dup2(p[0], 10) < 0)
		_exit(2);
	if (write(ready, "x", 1) != 1)
		_exit(2);
	if (self)
		raise(SIGSTOP);
	for (;;)
		pause();
}

static void run(int self)
{
	int ready[2];
	if (pipe(ready))
		exit(1);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(ready[0]);
		child(ready[1], self);
	}
	close(ready[1]);
	char x;
	if (read(ready[0], &x, 1) != 1)
		exit(1);
	close(ready[0]);
	int st;
	if (!self)
		kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	printf("== stopped by %s: %d\n", self ? "itself" : "its parent", WIFSTOPPED(st));
	look(c);
	/* While stopped: pending unless ignored (SIGINT: SIG_IGN; SIGCHLD:
	 * ignored by default), blocked or not (SIGUSR2 blocked). */
	kill(c, SIGUSR1);
	kill(c, SIGUSR2);
	kill(c, SIGINT);
	kill(c, SIGCHLD);
	syscall(SYS_tgkill, c, c, SIGTERM);
	static const char *const pend[] = {"State", "SigPnd", "ShdPnd", NULL};
	show(c, "status", pend);
	kill(c, SIGCONT);
	waitpid(c, &st, 0);
	printf("ended by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

int main(void)
{
	run(0);
	run(1);
	unlink("stopped-files.txt");
	return 0;
}
