/* Thread names: PR_SET_NAME renames the calling thread only; the process's
 * name (/proc/self/comm, stat, status) is its main thread's; a thread's
 * task/TID files show its own; a new thread starts with its creator's
 * name; a fork from a thread is named after that thread; get_robust_list
 * of another thread of the process gives that thread's list head;
 * pthread_setname_np of another thread (a write to its task/TID/comm) and a
 * write to /proc/self/comm rename. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void line(const char *label, const char *path, const char *key)
{
	char buf[512] = "", out[128] = "(none)";
	FILE *f = fopen(path, "r");
	while (f && fgets(buf, sizeof buf, f)) {
		if (!key || strncmp(buf, key, strlen(key)) == 0) {
			buf[strcspn(buf, "\n")] = 0;
			if (key)
				snprintf(out, sizeof out, "%s", buf);
			else /* stat: the name field only */
				snprintf(out, sizeof out, "%.*s", (int)(strrchr(buf, ')') - strchr(buf, '(') + 1), strchr(buf, '('));
			break;
		}
	}
	if (f)
		fclose(f);
	printf("%s: %s\n", label, out);
}

static void show(const char *who, long tid)
{
	char p[128], label[128];
	char name[32] = "";
	prctl(PR_GET_NAME, name);
	printf("%s PR_GET_NAME: %s\n", who, name);
	snprintf(label, sizeof label, "%s /proc/self/comm", who);
	line(label, "/proc/self/comm", "");
	snprintf(label, sizeof label, "%s /proc/self/status", who);
	line(label, "/proc/self/status", "Name:");
	snprintf(label, sizeof label, "%s /proc/self/stat", who);
	line(label, "/proc/self/stat", NULL);
	snprintf(p, sizeof p, "/proc/self/task/%ld/comm", tid);
	snprintf(label, sizeof label, "%s task comm", who);
	line(label, p, "");
	snprintf(p, sizeof p, "/proc/self/task/%ld/status", tid);
	snprintf(label, sizeof label, "%s task status", who);
	line(label, p, "Name:");
	snprintf(p, sizeof p, "/proc/self/task/%ld/stat", tid);
	snprintf(label, sizeof label, "%s task stat", who);
	line(label, p, NULL);
}

static pthread_barrier_t named, checked;
static long worker_tid;
static void *worker_head;

static void *grandchild(void *arg)
{
	(void)arg;
	show("second worker", syscall(SYS_gettid));
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = syscall(SYS_gettid);
	size_t len;
	syscall(SYS_get_robust_list, 0, &worker_head, &len);
	prctl(PR_SET_NAME, "worker-one");
	pthread_barrier_wait(&named);
	pthread_barrier_wait(&checked);
	show("worker", worker_tid);
	pthread_t t;
	pthread_create(&t, NULL, grandchild, NULL);
	pthread_join(t, NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char name[32] = "";
		prctl(PR_GET_NAME, name);
		printf("fork from worker PR_GET_NAME: %s\n", name);
		line("fork from worker /proc/self/comm", "/proc/self/comm", "");
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("fork child status %d\n", st);
	return NULL;
}

int main(void)
{
	prctl(PR_SET_NAME, "main-thread");
	pthread_barrier_init(&named, NULL, 2);
	pthread_barrier_init(&checked, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_barrier_wait(&named);
	show("main", syscall(SYS_gettid));
	char p[128];
	snprintf(p, sizeof p, "/proc/self/task/%ld/comm", worker_tid);
	line("main reads worker's task comm", p, "");
	void *head = NULL;
	size_t len = 0;
	long r = syscall(SYS_get_robust_list, worker_tid, &head, &len);
	printf("get_robust_list(worker): %ld, same head %d, len %zu\n", r, head == worker_head, len);
	printf("pthread_setname_np(worker): %d\n", pthread_setname_np(t, "renamed"));
	char got[32] = "";
	printf("pthread_getname_np(worker): %d %s\n", pthread_getname_np(t, got, sizeof got), got);
	pthread_barrier_wait(&checked);
	pthread_join(t, NULL);
	int fd = open("/proc/self/comm", O_WRONLY);
	long n = write(fd, "via-file\n", 9);
	close(fd);
	printf("write /proc/self/comm: %ld\n", n);
	line("after the write, /proc/self/comm", "/proc/self/comm", "");
	line("after the write, /proc/self/status", "/proc/self/status", "Name:");
	return 0;
}
