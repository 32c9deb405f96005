/* sysroot_escape tries every route it knows out of the root it runs in and
 * prints one line per route: "NAME ok CONTENT" when it read something
 * (first line of the file) or "NAME errno N" when the call failed.
 * argv[1] is the host's absolute path of a secret file outside the root;
 * the bind routes expect /mnt/bind (read-write) and /mnt/ro (read-only)
 * and /hostproc (a bind of the host's /proc). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *secret;

static void report_fd(const char *name, int fd) {
	char buf[128];
	ssize_t n;
	if (fd < 0) {
		printf("%s errno %d\n", name, errno);
		return;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		printf("%s errno %d\n", name, errno);
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("%s ok %s\n", name, buf);
}

static void try_open(const char *name, int dirfd, const char *path) {
	report_fd(name, openat(dirfd, path, O_RDONLY));
}

static void report_open(const char *name, int fd) {
	if (fd < 0) {
		printf("%s errno %d\n", name, errno);
		return;
	}
	close(fd);
	printf("%s ok\n", name);
}

static void try_rc(const char *name, int rc) {
	if (rc < 0)
		printf("%s errno %d\n", name, errno);
	else
		printf("%s ok %d\n", name, rc);
}

static char *up(const char *path) {
	static char buf[4096];
	snprintf(buf, sizeof buf, "../../../../../../../../../../..%s", path);
	return buf;
}

int main(int argc, char **argv) {
	char buf[4096];
	struct stat st;
	int dfd;
	if (argc < 2)
		return 2;
	secret = argv[1];

	try_open("absolute", AT_FDCWD, secret);
	try_open("dotdot", AT_FDCWD, up(secret));
	try_open("symlink_abs", AT_FDCWD, "/abs");
	try_open("symlink_rel", AT_FDCWD, "/rel");
	try_open("symlink_dir_chain", AT_FDCWD, "/hop/secret");
	try_rc("stat_absolute", stat(secret, &st));

	/* dirfds */
	dfd = open("/etc", O_RDONLY | O_DIRECTORY);
	try_open("dirfd_dotdot", dfd, up(secret));
	try_open("dirfd_symlink", dfd, "../abs");
	snprintf(buf, sizeof buf, "/proc/self/fd/%d/%s", dfd, up(secret));
	try_open("fd_magic_tail", AT_FDCWD, buf);
	snprintf(buf, sizeof buf, "/dev/fd/%d/../etc/inside", dfd);
	try_open("fd_magic_tail_inside", AT_FDCWD, buf);
	try_open("dirfd_inside", dfd, "inside");

	/* the working directory */
	try_rc("chdir_up", chdir("/etc/../../../.."));
	printf("getcwd %s\n", getcwd(buf, sizeof buf) ? buf : "error");
	try_open("cwd_relative", AT_FDCWD, up(secret) + 1);
	try_rc("chdir_back", chdir("/etc"));
	try_open("cwd_inside", AT_FDCWD, "inside");

	/* magic links through a bind of the host's /proc */
	snprintf(buf, sizeof buf, "/hostproc/self/root%s", secret);
	try_open("proc_self_root", AT_FDCWD, buf);
	snprintf(buf, sizeof buf, "/hostproc/1/root%s", secret);
	try_open("proc_1_root", AT_FDCWD, buf);
	try_open("proc_self_cwd", AT_FDCWD, "/hostproc/self/cwd/inside");
	try_open("symlink_to_proc_root", AT_FDCWD, "/magic");

	/* hard links, renames and new symlinks */
	try_rc("link_absolute", link(secret, "/stolen"));
	try_rc("linkat_follow_symlink", linkat(AT_FDCWD, "/abs", AT_FDCWD, "/stolen2", AT_SYMLINK_FOLLOW));
	try_open("linked_copy", AT_FDCWD, "/stolen2");
	try_rc("rename_absolute", rename(secret, "/stolen3"));
	try_rc("rename_symlink", rename("/abs", "/abs-moved"));
	try_open("renamed_symlink", AT_FDCWD, "/abs-moved");
	try_rc("symlink_new", symlink(secret, "/new-link"));
	try_open("symlink_new_follow", AT_FDCWD, "/new-link");
	try_rc("unlink_absolute", unlink(secret));
	snprintf(buf, sizeof buf, "%s.made", secret);
	try_rc("mkdir_outside", mkdir(up(buf), 0755));
	printf("readlink_abs %s\n", readlink("/abs-moved", buf, sizeof buf) > 0 ? "ok" : "error");

	/* /dev/shm is a host directory of elfuse's; the guest's symlinks in
	 * it lead into the guest's root, not the host's */
	try_rc("shm_symlink_abs", symlink(secret, "/dev/shm/escape-abs"));
	try_open("shm_symlink_abs_follow", AT_FDCWD, "/dev/shm/escape-abs");
	snprintf(buf, sizeof buf, "../../../../../../../..%s", secret);
	try_rc("shm_symlink_dotdot", symlink(buf, "/dev/shm/escape-up"));
	try_open("shm_symlink_dotdot_follow", AT_FDCWD, "/dev/shm/escape-up");
	try_rc("shm_symlink_inside", symlink("/inside", "/dev/shm/escape-in"));
	try_open("shm_symlink_inside_follow", AT_FDCWD, "/dev/shm/escape-in");
	unlink("/dev/shm/escape-abs");
	unlink("/dev/shm/escape-up");
	unlink("/dev/shm/escape-in");

	/* binds */
	try_open("bind_read", AT_FDCWD, "/mnt/bind/file");
	try_open("bind_dotdot", AT_FDCWD, "/mnt/bind/../../inside");
	snprintf(buf, sizeof buf, "/mnt/bind/%s", up(secret));
	try_open("bind_escape", AT_FDCWD, buf);
	try_open("bind_symlink_abs", AT_FDCWD, "/mnt/bind/abs");
	try_open("bind_symlink_to_root", AT_FDCWD, "/mnt/bind/toroot");
	try_open("root_symlink_to_bind", AT_FDCWD, "/tobind/file");
	try_open("root_symlink_dotdot", AT_FDCWD, "/tobind/../bind/file");
	report_open("bind_create", open("/mnt/bind/created", O_WRONLY | O_CREAT, 0644));
	try_rc("bind_created_exists", stat("/mnt/bind/created", &st));
	try_rc("chdir_bind", chdir("/mnt/bind"));
	printf("getcwd_bind %s\n", getcwd(buf, sizeof buf) ? buf : "error");
	try_open("bind_cwd_dotdot", AT_FDCWD, "../../inside");
	try_open("ro_read", AT_FDCWD, "/mnt/ro/file");
	report_open("ro_write", open("/mnt/ro/file", O_WRONLY));
	report_open("ro_create", open("/mnt/ro/new", O_WRONLY | O_CREAT, 0644));
	try_rc("ro_unlink", unlink("/mnt/ro/file"));
	try_rc("ro_mkdir", mkdir("/mnt/ro/d", 0755));
	try_rc("ro_chmod", chmod("/mnt/ro/file", 0600));
	return 0;
}
