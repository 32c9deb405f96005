/* netns_nouserns PROG ARGS...: run PROG as uid/gid 65534 in a user
 * namespace where no further user namespace may be created
 * (user.max_user_namespaces = 0), so that it can make neither a network
 * namespace (no CAP_SYS_ADMIN) nor a user namespace. Needs root. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		perror(path);
		exit(120);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int go[2], ready[2];
	if (pipe(go) < 0 || pipe(ready) < 0)
		return 121;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		if (unshare(CLONE_NEWUSER) < 0) {
			perror("unshare(CLONE_NEWUSER)");
			_exit(122);
		}
		write(ready[1], "x", 1);
		if (read(go[0], &c, 1) != 1)
			_exit(123);
		if (setgid(0) < 0 || setuid(0) < 0) {
			perror("become root in the namespace");
			_exit(124);
		}
		put("/proc/sys/user/max_user_namespaces", "0");
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
			perror("drop to 65534");
			_exit(125);
		}
		execv(argv[1], argv + 1);
		perror(argv[1]);
		_exit(126);
	}
	char c, path[64];
	if (read(ready[0], &c, 1) != 1)
		return 127;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	put(path, "0 0 1\n65534 65534 1\n");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	put(path, "0 0 1\n65534 65534 1\n");
	write(go[1], "x", 1);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
