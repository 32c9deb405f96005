// locks: record locks between processes. F_GETLK names the holder by its
// pid as the caller's pid namespace sees it (the guest's, never a host
// pid), an open file description lock by -1; a conflicting F_SETLK fails
// with EAGAIN and F_SETLKW waits until the holder lets go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct flock lk(short type, off_t start, off_t len) {
	struct flock l;
	memset(&l, 0, sizeof l);
	l.l_type = type;
	l.l_whence = SEEK_SET;
	l.l_start = start;
	l.l_len = len;
	return l;
}

// probe reports what F_GETLK (or F_OFD_GETLK) says of a write lock on
// [start, start+len), with the holder's pid named relative to holder.
static void probe(int fd, int cmd, const char *name, off_t start, off_t len, pid_t holder) {
	struct flock l = lk(F_WRLCK, start, len);
	if (fcntl(fd, cmd, &l) < 0) {
		printf("%s: %s\n", name, strerror(errno));
		return;
	}
	if (l.l_type == F_UNLCK) {
		printf("%s [%ld,+%ld): unlocked\n", name, (long)start, (long)len);
		return;
	}
	const char *who = l.l_pid == holder ? "the holder" : l.l_pid == -1 ? "-1 (OFD)" : "another pid";
	printf("%s [%ld,+%ld): %s lock [%ld,+%ld) held by %s\n", name, (long)start, (long)len,
	       l.l_type == F_WRLCK ? "write" : "read", (long)l.l_start, (long)l.l_len, who);
	if (l.l_pid != holder && l.l_pid != -1)
		printf("  l_pid %d is neither the holder %d nor -1\n", l.l_pid, holder);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int fd = open("locked", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10)
		return 3;
	struct flock w = lk(F_WRLCK, 0, 4), r = lk(F_RDLCK, 6, 2);
	if (fcntl(fd, F_SETLK, &w) < 0 || fcntl(fd, F_SETLK, &r) < 0)
		return 4;
	pid_t parent = getpid();
	int go[2], done[2];
	if (pipe(go) < 0 || pipe(done) < 0)
		return 5;
	pid_t c = fork();
	if (c == 0) {
		int cfd = open("locked", O_RDWR);
		probe(cfd, F_GETLK, "child F_GETLK", 0, 10, parent);
		probe(cfd, F_GETLK, "child F_GETLK", 6, 1, parent);
		probe(cfd, F_GETLK, "child F_GETLK", 4, 2, parent);
		struct flock t = lk(F_WRLCK, 2, 1);
		printf("child F_SETLK on the held range: %s\n",
		       fcntl(cfd, F_SETLK, &t) < 0 ? strerror(errno) : "granted");
		write(go[1], "x", 1);
		// Waits until the parent unlocks.
		printf("child F_SETLKW: %s\n", fcntl(cfd, F_SETLKW, &t) < 0 ? strerror(errno) : "granted");
		// An OFD lock of the child's own, seen by the parent.
		struct flock o = lk(F_WRLCK, 8, 2);
		if (fcntl(cfd, F_OFD_SETLK, &o) < 0)
			printf("child F_OFD_SETLK: %s\n", strerror(errno));
		write(done[1], "x", 1);
		char ch;
		read(go[0], &ch, 1); // the parent probed
		_exit(0);
	}
	char ch;
	read(go[0], &ch, 1);
	usleep(20000);
	struct flock u = lk(F_UNLCK, 0, 0);
	fcntl(fd, F_SETLK, &u);
	read(done[0], &ch, 1);
	int pfd = open("locked", O_RDWR);
	probe(pfd, F_GETLK, "parent F_GETLK", 2, 1, c);
	probe(pfd, F_OFD_GETLK, "parent F_OFD_GETLK", 8, 2, c);
	probe(pfd, F_GETLK, "parent F_GETLK", 8, 2, c);
	write(go[1], "x", 1);
	int st;
	waitpid(c, &st, 0);
	probe(pfd, F_GETLK, "after the child", 0, 10, c);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
