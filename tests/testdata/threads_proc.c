/* /proc/self/task and the Threads: line of /proc/self/status while four
 * threads live, /proc/PID/task by pid, a thread's own task entry, and what
 * a thread's stat and status say (its tid, its process's tgid).
 * (After pthread_join Linux may still list the joined thread for a moment:
 * join returns at clear_child_tid, before the thread is released.) */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_barrier_t started, finish;

static long first_field(const char *path)
{
	long v = 0;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static long status_field(const char *path, const char *key)
{
	char buf[512];
	long v = 0;
	size_t n = strlen(key);
	FILE *f = fopen(path, "r");
	while (f && fgets(buf, sizeof buf, f))
		if (strncmp(buf, key, n) == 0)
			sscanf(buf + n, "%ld", &v);
	if (f)
		fclose(f);
	return v;
}

/* What a thread sees of its own task directory. */
static int own_stat_is_tid, thread_self_is_tid, own_status_pid_is_tid, own_status_tgid_is_pid;

static void *worker(void *arg)
{
	if (arg) {
		char p[128];
		long tid = syscall(SYS_gettid);
		snprintf(p, sizeof p, "/proc/self/task/%ld/stat", tid);
		own_stat_is_tid = first_field(p) == tid;
		thread_self_is_tid = first_field("/proc/thread-self/stat") == tid;
		snprintf(p, sizeof p, "/proc/self/task/%ld/status", tid);
		own_status_pid_is_tid = status_field(p, "Pid:") == tid;
		own_status_tgid_is_pid = status_field(p, "Tgid:") == getpid();
	}
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&finish);
	return arg;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static int status_threads(void)
{
	char buf[4096];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(buf, sizeof buf, f))
		if (strncmp(buf, "Threads:", 8) == 0)
			sscanf(buf + 8, "%d", &n);
	if (f)
		fclose(f);
	return n;
}

int main(void)
{
	pthread_t th[3];
	char path[64];
	pthread_barrier_init(&started, NULL, 4);
	pthread_barrier_init(&finish, NULL, 4);
	for (long i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&started);
	int self = count_entries("/proc/self/task");
	int threads = status_threads();
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", (long)syscall(SYS_gettid));
	int own = access(path, R_OK) == 0;
	snprintf(path, sizeof path, "/proc/%d/task", getpid());
	int bypid = count_entries(path);
	pthread_barrier_wait(&finish);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	printf("task entries %d, Threads: %d, own task stat %d, by pid %d\n", self, threads, own, bypid);
	printf("in a thread: task stat names the tid %d, thread-self %d, status Pid %d, Tgid %d\n", own_stat_is_tid,
	       thread_self_is_tid, own_status_pid_is_tid, own_status_tgid_is_pid);
	return 0;
}
