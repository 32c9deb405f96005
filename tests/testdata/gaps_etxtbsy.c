// gaps_etxtbsy: execve of a file some process holds open for writing fails
// with ETXTBSY (Linux's deny_write_access), whoever the writer is: the caller
// itself (also through a close-on-exec descriptor), a fork child that
// inherited the descriptor, or a writable shared mapping. Closing the last
// writer frees it. "#!" scripts and ELF interpreters are covered as well.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void copy(const char *from, const char *to) {
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
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

// run execs path in a fork child and says how it went: the child's exit
// status, or the errno execve failed with.
static void run(const char *what, const char *path) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(3);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)path, "true", NULL};
		execv(path, argv);
		int e = errno;
		write(p[1], &e, sizeof e);
		_exit(127);
	}
	close(p[1]);
	int e = 0, st;
	ssize_t n = read(p[0], &e, sizeof e);
	close(p[0]);
	waitpid(pid, &st, 0);
	if (n == sizeof e)
		printf("%s: exec %s\n", what, strerror(e));
	else
		printf("%s: ran, exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

// holder forks a child that opens path for writing (or inherits fd when
// path is NULL) and waits; it returns once the child holds it.
static pid_t holder(const char *path, int fd) {
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (path != NULL && open(path, O_WRONLY) < 0)
			_exit(3);
		write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1)
		exit(4);
	close(p[0]);
	(void)fd;
	return pid;
}

// mapper forks a child that maps path MAP_SHARED writable, closes its
// descriptor and waits; it returns once the mapping is in place.
static pid_t mapper(const char *path) {
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		int fd = open(path, O_RDWR);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			_exit(3);
		void *m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			_exit(3);
		write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1)
		exit(4);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid) {
	int st;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

// patch_interp rewrites the PT_INTERP string of the program at path to
// name, of the original's length (Linux would take a shorter name padded
// with NULs; elfuse's loader refuses that still).
static int patch_interp(const char *path, const char *name) {
	static char buf[1 << 20];
	const char *old = "/lib64/ld-linux-x86-64.so.2";
	size_t len = strlen(old);
	int fd = open(path, O_RDWR);
	if (fd < 0 || strlen(name) != len)
		return -1;
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	int done = -1;
	for (ssize_t i = 0; i + (ssize_t)len < n; i++)
		if (memcmp(buf + i, old, len) == 0) {
			done = pwrite(fd, name, len, i) == (ssize_t)len ? 0 : -1;
			break;
		}
	close(fd);
	return done;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 2 && strcmp(argv[argc - 1], "true") == 0)
		return 0;
	copy("/proc/self/exe", "prog");
	run("nobody writes", "./prog");

	int fd = open("prog", O_WRONLY);
	run("caller writes", "./prog");
	close(fd);
	run("after close", "./prog");

	fd = open("prog", O_WRONLY | O_CLOEXEC);
	run("caller writes, close-on-exec", "./prog");
	close(fd);

	fd = open("prog", O_RDONLY);
	run("caller reads", "./prog");
	close(fd);

	// A writer in another process.
	pid_t h = holder("prog", -1);
	run("child writes", "./prog");
	reap(h);
	run("child gone", "./prog");

	// A writer inherited over fork: the parent closes its copy.
	fd = open("prog", O_RDWR);
	h = holder(NULL, fd);
	close(fd);
	run("inherited writer", "./prog");
	reap(h);
	run("inherited writer gone", "./prog");

	// A writable shared mapping outlives its descriptor. It is held by a
	// child that then exits: under the ptrace backend the stub process
	// keeps its own descriptor of a mapped file after munmap, so a munmap
	// in place would still leave a writer there (see the report of this
	// change).
	h = mapper("prog");
	run("shared writable mapping", "./prog");
	reap(h);
	run("mapping gone", "./prog");

	// The same in place: the mapping, not the closed descriptor, holds
	// the writer, and its munmap lets the file run (the ptrace backend's
	// stub drops its own descriptor once the mapping is made).
	fd = open("prog", O_RDWR);
	void *sm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sm == MAP_FAILED)
		return 7;
	close(fd);
	run("shared writable mapping in place", "./prog");
	munmap(sm, 4096);
	run("shared writable mapping unmapped", "./prog");

	// A private mapping from a descriptor open for writing, unmapped and
	// closed in place: then nothing writes (the ptrace backend's stub
	// maps such a file from a read-only descriptor of its own).
	fd = open("prog", O_RDWR);
	void *pm = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (pm == MAP_FAILED)
		return 7;
	run("private mapping, writer open", "./prog");
	munmap(pm, 4096);
	close(fd);
	run("private mapping and writer gone", "./prog");

	// "#!" scripts: the script open for writing, then its interpreter.
	int s = open("script", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	dprintf(s, "#!./prog\n");
	run("script open for writing", "./script");
	close(s);
	run("script closed", "./script");
	fd = open("prog", O_WRONLY);
	run("script interpreter open for writing", "./script");
	close(fd);

	// The ELF interpreter of a dynamic program.
	if (access("/bin/true", X_OK) == 0 && access("/lib64/ld-linux-x86-64.so.2", X_OK) == 0) {
		const char *ld = "./ld-linux-x86-64.so.2-copy";
		copy("/lib64/ld-linux-x86-64.so.2", ld);
		copy("/bin/true", "dyn");
		if (patch_interp("dyn", ld) < 0)
			return 6;
		run("dynamic", "./dyn");
		fd = open(ld, O_WRONLY);
		run("interpreter open for writing", "./dyn");
		close(fd);
		run("interpreter closed", "./dyn");
	}

	// Opening for writing a file that is not executable is never refused
	// and does not affect other files.
	fd = open("data", O_WRONLY | O_CREAT, 0644);
	run("unrelated writer", "./prog");
	close(fd);
	unlink("data");
	unlink("script");
	unlink("dyn");
	unlink("ld-linux-x86-64.so.2-copy");
	unlink("prog");
	return 0;
}
