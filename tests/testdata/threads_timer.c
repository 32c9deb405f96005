// threads_timer MODE: POSIX timers in a threaded process.
//   sigev_thread: glibc's SIGEV_THREAD timer (the kernel sees
//     SIGEV_THREAD_ID naming glibc's helper thread); the callback runs 3 times.
//   thread_id: a SIGEV_THREAD_ID timer aimed at a worker thread; its
//     handler runs in that worker, never in main; an id of a thread
//     outside the process is EINVAL.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id // glibc before 2.35
#define sigev_notify_thread_id _sigev_un._tid
#endif

static sem_t fired;
static volatile int calls;

static void callback(union sigval v) {
	if (v.sival_int == 42 && __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) <= 3)
		sem_post(&fired);
}

static int sigev_thread(void) {
	sem_init(&fired, 0, 0);
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = callback;
	sev.sigev_value.sival_int = 42;
	timer_t id;
	if (timer_create(CLOCK_MONOTONIC, &sev, &id) != 0) {
		printf("timer_create: %s\n", strerror(errno));
		return 1;
	}
	struct itimerspec its = {{0, 20 * 1000 * 1000}, {0, 20 * 1000 * 1000}};
	timer_settime(id, 0, &its, NULL);
	for (int i = 0; i < 3; i++)
		sem_wait(&fired);
	timer_delete(id);
	printf("callback ran 3 times\n");
	return 0;
}

static volatile pid_t handled_in;
static pid_t worker_tid;
static sem_t ready, done;

static void handler(int sig) {
	(void)sig;
	handled_in = (pid_t)syscall(SYS_gettid);
	sem_post(&done);
}

static void *worker(void *arg) {
	(void)arg;
	worker_tid = (pid_t)syscall(SYS_gettid);
	sem_post(&ready);
	for (;;)
		pause();
	return NULL;
}

static int thread_id(void) {
	sem_init(&ready, 0, 0);
	sem_init(&done, 0, 0);
	struct sigaction sa = {0};
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	sem_wait(&ready);
	// main blocks SIGUSR1 too late to matter: the signal is the worker's.
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev.sigev_notify_thread_id = worker_tid;
	timer_t id;
	if (timer_create(CLOCK_MONOTONIC, &sev, &id) != 0) {
		printf("timer_create: %s\n", strerror(errno));
		return 1;
	}
	struct itimerspec its = {{0, 0}, {0, 10 * 1000 * 1000}};
	timer_settime(id, 0, &its, NULL);
	sem_wait(&done);
	printf("handled in the worker: %s\n", handled_in == worker_tid ? "yes" : "no");
	timer_delete(id);
	// A thread id outside the process.
	sev.sigev_notify_thread_id = getppid();
	errno = 0;
	int r = timer_create(CLOCK_MONOTONIC, &sev, &id);
	printf("foreign tid: %d %s\n", r, r ? strerror(errno) : "");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && strcmp(argv[1], "sigev_thread") == 0)
		return sigev_thread();
	if (argc > 1 && strcmp(argv[1], "thread_id") == 0)
		return thread_id();
	return 2;
}
