// exec: execve/execveat in place (there is no fork): every mode either
// replaces itself with a later mode of the same program or checks that a
// failed exec left it intact. Output must match native Linux.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

extern char **environ;
static char *self;

static const char *ename(int e) {
	switch (e) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOEXEC: return "ENOEXEC";
	case E2BIG: return "E2BIG";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ELOOP: return "ELOOP";
	case ENOTDIR: return "ENOTDIR";
	case EBADF: return "EBADF";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	default: return "other";
	}
}

// sys_execve is the raw call, for pointers the C library must not look at.
static long sys_execve(const void *path, const void *argv, const void *envp) {
	return syscall(SYS_execve, path, argv, envp);
}

static long sys_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
	return syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

// again replaces the process with this program in another mode.
static void again(const char *mode, const char *arg) {
	char *argv[] = {self, (char *)mode, (char *)arg, NULL};
	fflush(stdout);
	execve(self, argv, environ);
	printf("exec %s failed: %s\n", mode, ename(errno));
	exit(1);
}

static void report(const char *what, long r) {
	printf("%s: %ld %s\n", what, r, r < 0 ? ename(errno) : "");
	fflush(stdout);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode) {
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
		perror(path);
		exit(2);
	}
	close(fd);
	chmod(path, mode);
}

static void show_args(int argc, char **argv) {
	char comm[17] = {0};
	prctl(PR_GET_NAME, comm);
	printf("argc=%d comm=%s\n", argc, comm);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=[%s]\n", i, argv[i]);
}

// chain N: exec itself N times, counting down; the pid never changes.
static int chain(char **argv) {
	int n = atoi(argv[2]);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", getpid());
	if (argv[3] && strcmp(argv[3], pid) != 0) {
		printf("pid changed across exec\n");
		return 1;
	}
	if (n == 0) {
		printf("chain done, pid kept\n");
		return 0;
	}
	if (n % 10 == 0)
		printf("chain %d\n", n);
	fflush(stdout);
	char num[32];
	snprintf(num, sizeof num, "%d", n - 1);
	char *nargv[] = {self, "chain", num, pid, NULL};
	execve(self, nargv, environ);
	printf("exec failed: %s\n", ename(errno));
	return 1;
}

// failures: every error before the point of no return leaves the caller
// running.
static int failures(void) {
	char *argv[] = {"x", NULL};
	report("missing file", execve("/nonexistent/program", argv, environ));
	report("missing dir component", execve("./nodir/program", argv, environ));
	write_file("noexec", "\x7f" "ELF", 4, 0644);
	report("not executable", execve("./noexec", argv, environ));
	report("directory", execve(".", argv, environ));
	report("empty path", execve("", argv, environ));
	report("file as directory", execve("./noexec/x", argv, environ));

	// A truncated ELF: the header of this very program, cut short.
	char buf[200];
	int fd = open(self, O_RDONLY);
	if (read(fd, buf, sizeof buf) != sizeof buf)
		return 2;
	close(fd);
	write_file("trunc", buf, 40, 0755);
	report("truncated ELF header", execve("./trunc", argv, environ));
	write_file("trunc2", buf, sizeof buf, 0755);
	report("truncated ELF body", execve("./trunc2", argv, environ));
	write_file("garbage", "just text\n", 10, 0755);
	report("not ELF, no #!", execve("./garbage", argv, environ));
	write_file("badinterp", "#!/nonexistent/interp\n", 22, 0755);
	report("#! interpreter missing", execve("./badinterp", argv, environ));
	write_file("emptyinterp", "#!   \n", 6, 0755);
	report("#! without interpreter", execve("./emptyinterp", argv, environ));
	report("bad path pointer", sys_execve((void *)8, argv, environ));
	report("bad argv pointer", sys_execve(self, (void *)8, environ));
	char *badarg[] = {self, (char *)8, NULL};
	report("bad argv string", execve(self, badarg, environ));
	report("missing file and bad argv", sys_execve("/nonexistent/program", (void *)8, environ));
	report("not ELF and bad argv", sys_execve("./garbage", (void *)8, environ));
	report("bad envp pointer", sys_execve(self, argv, (void *)8));

	// Argument space: one string at MAX_ARG_STRLEN (32 pages with its NUL)
	// is too long; many strings past the total are too.
	size_t big = 32 * 4096;
	char *s = malloc(big + 1);
	memset(s, 'a', big);
	s[big] = 0;
	char *bigargv[] = {self, s, NULL};
	report("argument of MAX_ARG_STRLEN", execve(self, bigargv, environ));
	s[big - 1] = 0;
	size_t nargs = 8 * 1024 * 1024 / (big - 1) + 2;
	char **many = calloc(nargs + 2, sizeof *many);
	many[0] = self;
	for (size_t i = 1; i <= nargs; i++)
		many[i] = s;
	report("8 MiB of arguments", execve(self, many, environ));

	mkfifo("fifo", 0755);
	report("fifo", execve("./fifo", argv, environ));
	report("execveat AT_EMPTY_PATH on AT_FDCWD", sys_execveat(AT_FDCWD, "", argv, environ, AT_EMPTY_PATH));
	report("execveat bad flags", sys_execveat(AT_FDCWD, self, argv, environ, 0x2));
	report("execveat bad dirfd", sys_execveat(1234, "relative", argv, environ, 0));
	symlink(self, "link");
	report("execveat nofollow symlink", sys_execveat(AT_FDCWD, "link", argv, environ, AT_SYMLINK_NOFOLLOW));
	int dfd = open("noexec", O_RDONLY);
	report("execveat file dirfd", sys_execveat(dfd, "x", argv, environ, 0));
	report("execveat empty path without flag", sys_execveat(dfd, "", argv, environ, 0));
	report("execveat empty path non-executable", sys_execveat(dfd, "", argv, environ, AT_EMPTY_PATH));
	printf("still running after every failure\n");
	return 0;
}

// cloexec: descriptor 10 is close-on-exec, 11 is not; after exec 10 is
// gone and 11 still reads the same file.
static int cloexec_before(void) {
	write_file("data", "kept\n", 5, 0644);
	int a = open("data", O_RDONLY | O_CLOEXEC);
	int b = open("data", O_RDONLY);
	dup3(a, 10, O_CLOEXEC);
	dup2(b, 11);
	close(a);
	close(b);
	printf("before: fd10 flags=%d fd11 flags=%d\n", fcntl(10, F_GETFD), fcntl(11, F_GETFD));
	again("cloexec_after", NULL);
	return 1;
}

static int cloexec_after(void) {
	int r = fcntl(10, F_GETFD);
	printf("after: fd10 F_GETFD=%d %s\n", r, r < 0 ? ename(errno) : "");
	r = fcntl(11, F_GETFD);
	printf("after: fd11 F_GETFD=%d\n", r);
	char buf[16] = {0};
	ssize_t n = read(11, buf, sizeof buf - 1);
	printf("after: fd11 read %zd [%s]\n", n, buf);
	return 0;
}

static void on_usr1(int sig) { (void)sig; }

// signals: a caught signal reverts to SIG_DFL, an ignored one stays
// ignored, the mask and a pending blocked signal survive.
static int signals_before(void) {
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGTERM, on_usr1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGTERM);
	stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536};
	sigaltstack(&ss, NULL);
	again("signals_after", NULL);
	return 1;
}

static const char *disp(int sig) {
	struct sigaction sa;
	sigaction(sig, NULL, &sa);
	if (sa.sa_handler == SIG_DFL)
		return "SIG_DFL";
	if (sa.sa_handler == SIG_IGN)
		return "SIG_IGN";
	return "handler";
}

static int signals_after(void) {
	printf("SIGUSR1 %s, SIGUSR2 %s, SIGTERM %s\n", disp(SIGUSR1), disp(SIGUSR2), disp(SIGTERM));
	sigset_t set, pend;
	sigprocmask(SIG_BLOCK, NULL, &set);
	sigpending(&pend);
	printf("blocked: INT=%d TERM=%d USR1=%d\n", sigismember(&set, SIGINT), sigismember(&set, SIGTERM), sigismember(&set, SIGUSR1));
	printf("pending: TERM=%d\n", sigismember(&pend, SIGTERM));
	stack_t ss;
	sigaltstack(NULL, &ss);
	printf("altstack disabled=%d\n", (ss.ss_flags & SS_DISABLE) != 0);
	fflush(stdout);
	// The pending SIGTERM now has its default action: the process dies of it.
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("not reached\n");
	return 0;
}

static void print_exe(const char *when) {
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("%s: /proc/self/exe is this program: %d\n", when, strcmp(buf, self) == 0);
}

// exe: /proc/self/exe before and after exec, through a symlink and
// through /proc/self/exe itself.
static int exe_before(void) {
	print_exe("before");
	symlink(self, "link");
	char *argv[] = {"./link", "exe_after", NULL};
	fflush(stdout);
	execve("./link", argv, environ);
	return 1;
}

static int exe_after(char **argv) {
	print_exe("after exec through a symlink");
	printf("argv[0]=%s\n", argv[0]);
	char *nargv[] = {"again", "exe_self", NULL};
	fflush(stdout);
	execve("/proc/self/exe", nargv, environ);
	printf("exec /proc/self/exe failed: %s\n", ename(errno));
	return 1;
}

// script: a "#!" script whose interpreter is this program with one
// argument (the rest of the line, spaces inside kept).
static int script(void) {
	char text[4096];
	int n = snprintf(text, sizeof text, "#! %s  showargs  x  y \nbody\n", self);
	write_file("s.sh", text, n, 0755);
	char *argv[] = {"name-ignored", "a", "b c", NULL};
	fflush(stdout);
	execve("./s.sh", argv, environ);
	printf("exec script failed: %s\n", ename(errno));
	return 1;
}

// execveat: through an O_PATH descriptor with AT_EMPTY_PATH, then relative
// to a directory descriptor.
static int at_empty(void) {
	int fd = open(self, O_PATH | O_CLOEXEC);
	char *argv[] = {"fexec", "at_dir", NULL};
	fflush(stdout);
	sys_execveat(fd, "", argv, environ, AT_EMPTY_PATH);
	printf("execveat AT_EMPTY_PATH failed: %s\n", ename(errno));
	return 1;
}

static int at_dir(void) {
	char comm[17] = {0};
	prctl(PR_GET_NAME, comm);
	printf("execveat AT_EMPTY_PATH ran, comm=%s\n", comm);
	symlink(self, "lnk");
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	char *argv[] = {"rel", "showargs", "from dirfd", NULL};
	fflush(stdout);
	sys_execveat(dfd, "lnk", argv, environ, 0);
	printf("execveat relative failed: %s\n", ename(errno));
	return 1;
}

// env: the new image gets exactly the given environment; NULL argv gives
// one empty argument.
static int env_before(void) {
	char *envp[] = {"A=1", "EXEC_MODE=nullargv", "EMPTY=", NULL};
	fflush(stdout);
	sys_execve(self, NULL, envp);
	printf("exec with NULL argv failed: %s\n", ename(errno));
	return 1;
}

static int null_argv(int argc, char **argv) {
	printf("argc=%d argv0=[%s]\n", argc, argv[0]);
	for (char **e = environ; *e; e++)
		printf("env %s\n", *e);
	return 0;
}

int main(int argc, char **argv) {
	const char *m = getenv("EXEC_MODE");
	if (m && strcmp(m, "nullargv") == 0)
		return null_argv(argc, argv);
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0) {
		perror("readlink /proc/self/exe");
		return 2;
	}
	exe[n] = 0;
	self = exe;
	if (argc < 2) {
		fprintf(stderr, "usage: exec MODE\n");
		return 2;
	}
	const char *mode = argv[1];
	if (strncmp(mode, "showargs", 8) == 0) {
		show_args(argc, argv);
		return 0;
	}
	if (!strcmp(mode, "chain")) return chain(argv);
	if (!strcmp(mode, "failures")) return failures();
	if (!strcmp(mode, "cloexec")) return cloexec_before();
	if (!strcmp(mode, "cloexec_after")) return cloexec_after();
	if (!strcmp(mode, "signals")) return signals_before();
	if (!strcmp(mode, "signals_after")) return signals_after();
	if (!strcmp(mode, "exe")) return exe_before();
	if (!strcmp(mode, "exe_after")) return exe_after(argv);
	if (!strcmp(mode, "exe_self")) {
		print_exe("after exec of /proc/self/exe");
		return 0;
	}
	if (!strcmp(mode, "script")) return script();
	if (!strcmp(mode, "at_empty")) return at_empty();
	if (!strcmp(mode, "at_dir")) return at_dir();
	if (!strcmp(mode, "env")) return env_before();
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
