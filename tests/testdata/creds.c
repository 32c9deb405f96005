// creds: a process's credentials govern its file access. Run as root: it
// makes, under a fresh 0755 directory of /tmp, a root 0600 file, a root
// 0644 file, a root 0755 directory, a root 0700 directory, and a file and
// a directory of uid 1000 (both 0600/0700); then children change their
// credentials and try the same calls on them:
//   setuid    setgroups([]), setgid(1000), setuid(1000); then in a fork
//             child, an exec'd copy of this program (via vfork), a copy
//             only root may execute, a thread that was blocked while its
//             process changed ids and one started after;
//   caps      uid 0 without CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
//             CAP_CHOWN, CAP_FOWNER in its effective set (capset), then in
//             its permitted set too (access() of a real root uses the
//             permitted set, AT_EACCESS the effective one);
//   root      a child after those that changes nothing;
//   fsuid     setfsuid(1000) and setfsgid(1000) alone, then back to 0.
// Every result is printed by errno name.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
	static char buf[32];
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EROFS: return "EROFS";
	}
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

static void r(const char *who, const char *what, long v) {
	if (v < 0)
		printf("%s: %s: %s\n", who, what, ename(errno));
	else
		printf("%s: %s: ok\n", who, what);
}

// fdr reports an open's result and closes what it opened.
static void fdr(const char *who, const char *what, int fd) {
	r(who, what, fd);
	if (fd >= 0)
		close(fd);
}

static char dir[64];

static const char *at(const char *name) {
	static char bufs[8][160];
	static int n;
	char *b = bufs[n++ % 8];
	snprintf(b, 160, "%s/%s", dir, name);
	return b;
}

// theirName is the file who creates in theirdir.
static void theirName(char *name, size_t size, const char *who) {
	snprintf(name, size, "theirdir/%s", who);
	for (char *c = name + strlen("theirdir/"); *c; c++)
		if (*c == '/')
			*c = '_';
}

// tries makes the calls every identity is checked with.
static void tries(const char *who) {
	fdr(who, "open secret O_RDONLY", open(at("secret"), O_RDONLY));
	fdr(who, "open public O_RDONLY", open(at("public"), O_RDONLY));
	fdr(who, "open public O_WRONLY", open(at("public"), O_WRONLY));
	fdr(who, "open theirs O_RDONLY", open(at("theirs"), O_RDONLY));
	fdr(who, "create in locked/", open(at("locked/new"), O_CREAT | O_WRONLY | O_EXCL, 0644));
	r(who, "mkdir in locked/", mkdir(at("locked/newdir"), 0755));
	struct stat st;
	r(who, "stat private/f", stat(at("private/f"), &st));
	char name[64];
	theirName(name, sizeof name, who);
	int fd = open(at(name), O_CREAT | O_WRONLY | O_EXCL, 0644);
	r(who, "create in theirdir/", fd);
	if (fd >= 0) {
		fstat(fd, &st);
		printf("%s: created file owner %u:%u\n", who, (unsigned)st.st_uid, (unsigned)st.st_gid);
		close(fd);
	}
	r(who, "access secret R_OK", access(at("secret"), R_OK));
	r(who, "access theirs R_OK", access(at("theirs"), R_OK));
	r(who, "access locked W_OK", access(at("locked"), W_OK));
	r(who, "faccessat secret R_OK AT_EACCESS", faccessat(AT_FDCWD, at("secret"), R_OK, AT_EACCESS));
	r(who, "faccessat theirs R_OK AT_EACCESS", faccessat(AT_FDCWD, at("theirs"), R_OK, AT_EACCESS));
	r(who, "faccessat locked W_OK AT_EACCESS", faccessat(AT_FDCWD, at("locked"), W_OK, AT_EACCESS));
	r(who, "chown public 1000:1000", chown(at("public"), 1000, 1000));
	r(who, "chmod theirs 0600", chmod(at("theirs"), 0600));
	r(who, "chmod secret 0600", chmod(at("secret"), 0600));
}

// sendCreds sends SCM_CREDENTIALS naming uid and gid over a socketpair and
// prints what the receiver got.
static void sendCreds(const char *who, uid_t uid, gid_t gid) {
	int sv[2], on = 1;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
		printf("%s: socketpair: %s\n", who, ename(errno));
		return;
	}
	struct ucred uc = {getpid(), uid, gid};
	char cbuf[CMSG_SPACE(sizeof uc)] = {0}, byte = 'x';
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof uc);
	memcpy(CMSG_DATA(c), &uc, sizeof uc);
	char what[64];
	snprintf(what, sizeof what, "send SCM_CREDENTIALS %u:%u", (unsigned)uid, (unsigned)gid);
	r(who, what, sendmsg(sv[0], &m, 0));
	memset(cbuf, 0, sizeof cbuf);
	m.msg_controllen = sizeof cbuf;
	if (recvmsg(sv[1], &m, MSG_DONTWAIT) == 1 && (c = CMSG_FIRSTHDR(&m)) != NULL && c->cmsg_type == SCM_CREDENTIALS) {
		memcpy(&uc, CMSG_DATA(c), sizeof uc);
		printf("%s: received %u:%u from %s\n", who, (unsigned)uc.uid, (unsigned)uc.gid,
		       uc.pid == getpid() ? "self" : "another pid");
	}
	close(sv[0]);
	close(sv[1]);
}

// Capabilities through the raw calls (no libcap).
struct caphdr { unsigned version; int pid; };
struct capdata { unsigned eff, perm, inh; };
#define CAPV3 0x20080522
#define CAP_CHOWN_ 0
#define CAP_DAC_OVERRIDE_ 1
#define CAP_DAC_READ_SEARCH_ 2
#define CAP_FOWNER_ 3

static int dropcaps(int permitted_too) {
	struct caphdr h = {CAPV3, 0};
	struct capdata d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	unsigned m = 1u << CAP_CHOWN_ | 1u << CAP_DAC_OVERRIDE_ | 1u << CAP_DAC_READ_SEARCH_ | 1u << CAP_FOWNER_;
	d[0].eff &= ~m;
	if (permitted_too)
		d[0].perm &= ~m;
	return syscall(SYS_capset, &h, d);
}

static int pipefd[2];

static void *blocked(void *arg) {
	char c;
	if (read(pipefd[0], &c, 1) != 1)
		return NULL;
	tries("setuid/thread");
	return NULL;
}

static void *later(void *arg) {
	tries("setuid/newthread");
	return NULL;
}

// copyself copies this program to name with mode.
static void copyself(const char *name, mode_t mode) {
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, mode);
	char buf[65536];
	ssize_t n;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			break;
	close(in);
	close(out);
	chmod(at(name), mode);
}

static void waitfor(const char *what, pid_t pid) {
	int status;
	waitpid(pid, &status, 0);
	printf("%s: status %d\n", what, status);
	fflush(stdout);
}

static void setuidChild(void) {
	pthread_t th;
	if (pipe(pipefd) < 0 || pthread_create(&th, NULL, blocked, NULL) != 0) {
		printf("setuid: thread: %s\n", ename(errno));
		return;
	}
	r("setuid", "setgroups([])", setgroups(0, NULL));
	r("setuid", "setgid(1000)", setgid(1000));
	r("setuid", "setuid(1000)", setuid(1000));
	printf("setuid: ids %d %d %d %d\n", getuid(), geteuid(), getgid(), getegid());
	tries("setuid");
	sendCreds("setuid", 1000, 1000);
	sendCreds("setuid", 0, 1000);
	sendCreds("setuid", 1000, 0);
	fflush(stdout);
	if (write(pipefd[1], "x", 1) != 1)
		printf("setuid: pipe: %s\n", ename(errno));
	pthread_join(th, NULL);
	fflush(stdout);
	if (pthread_create(&th, NULL, later, NULL) == 0)
		pthread_join(th, NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		tries("setuid/fork");
		fflush(stdout);
		_exit(0);
	}
	waitfor("setuid/fork", pid);
	pid = vfork();
	if (pid == 0) {
		execl(at("copy"), "copy", "probe", "setuid/exec", dir, (char *)NULL);
		_exit(127);
	}
	waitfor("setuid/exec", pid);
	pid = fork();
	if (pid == 0) {
		execl(at("rootonly"), "rootonly", "probe", "setuid/rootonly", dir, (char *)NULL);
		printf("setuid: exec root-only copy: %s\n", ename(errno));
		fflush(stdout);
		_exit(127);
	}
	waitfor("setuid/rootonly", pid);
}

static void capsChild(void) {
	r("caps", "capset effective", dropcaps(0));
	tries("caps");
	r("caps", "capset permitted", dropcaps(1));
	tries("caps/permitted");
}

static void fsuidChild(void) {
	printf("fsuid: setfsgid(1000) was %d\n", setfsgid(1000));
	printf("fsuid: setfsuid(1000) was %d\n", setfsuid(1000));
	tries("fsuid");
	printf("fsuid: setfsuid(0) was %d\n", setfsuid(0));
	printf("fsuid: setfsgid(0) was %d\n", setfsgid(0));
	tries("fsuid/back");
}

// rootChild is a child after the others: elfuse may serve it with the
// host process that served one of them, which must have dropped their
// credentials.
static void rootChild(void) { tries("root"); }

static void run(const char *what, void (*fn)(void)) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	waitfor(what, pid);
}

static void mkfile(const char *name, mode_t mode, uid_t uid) {
	int fd = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, mode);
	if (fd < 0 || write(fd, "data\n", 5) != 5) {
		printf("make %s: %s\n", name, ename(errno));
		exit(1);
	}
	close(fd);
	chmod(at(name), mode);
	chown(at(name), uid, uid);
}

static void mkdirFor(const char *name, mode_t mode, uid_t uid) {
	if (mkdir(at(name), mode) < 0) {
		printf("make %s: %s\n", name, ename(errno));
		exit(1);
	}
	chmod(at(name), mode);
	chown(at(name), uid, uid);
}

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "probe") == 0) {
		snprintf(dir, sizeof dir, "%s", argv[3]);
		printf("%s: ids %d %d %d %d\n", argv[2], getuid(), geteuid(), getgid(), getegid());
		tries(argv[2]);
		return 0;
	}
	if (geteuid() != 0) {
		printf("needs root\n");
		return 2;
	}
	strcpy(dir, "/tmp/elfuse-creds-XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0) {
		printf("mkdtemp: %s\n", ename(errno));
		return 1;
	}
	mkfile("secret", 0600, 0);
	mkfile("public", 0644, 0);
	mkfile("theirs", 0600, 1000);
	mkdirFor("locked", 0755, 0);
	mkdirFor("private", 0700, 0);
	mkfile("private/f", 0644, 0);
	mkdirFor("theirdir", 0700, 1000);
	copyself("copy", 0755);
	copyself("rootonly", 0744);

	run("setuid", setuidChild);
	run("caps", capsChild);
	run("root", rootChild);
	run("fsuid", fsuidChild);

	const char *names[] = {"secret", "public", "theirs", "private/f", "copy", "rootonly", NULL};
	for (int i = 0; names[i]; i++)
		unlink(at(names[i]));
	const char *made[] = {"setuid", "setuid/thread", "setuid/newthread", "setuid/fork", "setuid/rootonly", "setuid/exec", "caps", "caps/permitted",
			      "fsuid", "fsuid/back", "root", NULL};
	for (int i = 0; made[i]; i++) {
		char name[64];
		theirName(name, sizeof name, made[i]);
		unlink(at(name));
	}
	rmdir(at("locked/newdir"));
	unlink(at("locked/new"));
	rmdir(at("locked"));
	rmdir(at("private"));
	rmdir(at("theirdir"));
	r("root", "cleanup", rmdir(dir));
	return 0;
}
