// textbusy: a program file some process is running cannot be opened for
// writing or truncated (ETXTBSY); reading, renaming and unlinking it work,
// and writing works again once it no longer runs.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void copy_self(const char *to) {
	int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	if (in < 0 || out < 0) {
		perror("copy");
		exit(3);
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			exit(3);
	close(in);
	close(out);
}

static void try(const char *what, int r) {
	printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		int fd = atoi(argv[2]);
		char c = 'x';
		write(fd, &c, 1); // running
		pause();          // until killed
		return 0;
	}
	copy_self("prog");
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		char fdarg[16];
		snprintf(fdarg, sizeof fdarg, "%d", p[1]);
		execl("./prog", "prog", "child", fdarg, (char *)0);
		_exit(127);
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1)
		return 4;
	struct stat before, after;
	stat("prog", &before);
	int fd;
	try("open O_WRONLY", fd = open("prog", O_WRONLY));
	if (fd >= 0)
		close(fd);
	try("open O_RDWR|O_TRUNC", fd = open("prog", O_RDWR | O_TRUNC));
	if (fd >= 0)
		close(fd);
	try("truncate", truncate("prog", 0));
	stat("prog", &after);
	printf("size kept: %s\n", before.st_size == after.st_size ? "yes" : "no");
	try("open O_RDONLY", fd = open("prog", O_RDONLY));
	if (fd >= 0)
		close(fd);
	// A new file under another name is not busy, even with exec bits.
	copy_self("prog2");
	try("open copy O_WRONLY", fd = open("prog2", O_WRONLY));
	if (fd >= 0)
		close(fd);
	try("rename running", rename("prog", "prog.old"));
	try("unlink running", unlink("prog.old"));
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	try("open copy after exit O_WRONLY|O_TRUNC", fd = open("prog2", O_WRONLY | O_TRUNC));
	if (fd >= 0)
		close(fd);
	struct stat s2;
	stat("prog2", &s2);
	printf("copy truncated: %s\n", s2.st_size == 0 ? "yes" : "no");
	unlink("prog2");
	return 0;
}
