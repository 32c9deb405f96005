/* Threads, milestone 2: mutexes and condition variables under contention,
 * thread-directed signals (pthread_kill, tgkill), a process-directed signal
 * taken by the thread that does not block it, per-thread signal masks, and
 * blocking calls interrupted in the thread the signal was sent to. Output
 * is deterministic: counts and yes/no answers. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NT 4
#define FUTEX_WAIT_PRIVATE 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG; musl has no linux/futex.h */

static pid_t gettid_(void) { return syscall(SYS_gettid); }

/* mutex: NT threads add under one lock. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *adder(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* condvar: a bounded queue, NT producers, one consumer. */
#define QCAP 4
static pthread_cond_t notfull = PTHREAD_COND_INITIALIZER, notempty = PTHREAD_COND_INITIALIZER;
static long q[QCAP];
static int qn, qhead;

static void *producer(void *arg)
{
	long base = (long)arg;
	for (long i = 1; i <= 200; i++) {
		pthread_mutex_lock(&mu);
		while (qn == QCAP)
			pthread_cond_wait(&notfull, &mu);
		q[(qhead + qn) % QCAP] = base + i;
		qn++;
		pthread_cond_signal(&notempty);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* signals */
static volatile pid_t handled_in;
static volatile sig_atomic_t handled;

static void on_sig(int sig)
{
	(void)sig;
	handled_in = gettid_();
	handled = 1;
}

static void handle(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig; /* no SA_RESTART: blocking calls fail EINTR */
	sigaction(sig, &sa, NULL);
}

static volatile pid_t worker_tid;
static volatile int ready;
static pthread_barrier_t bar;

static void *waiter(void *arg)
{
	(void)arg;
	worker_tid = gettid_();
	ready = 1;
	while (!handled)
		pause();
	return NULL;
}

static void *unblocker(void *arg)
{
	int sig = (int)(long)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	worker_tid = gettid_();
	ready = 1;
	while (!handled)
		pause();
	return NULL;
}

static int futex_word;
static volatile int finished;
static const char *blocked_call;
static int blocked_errno;
static int pipefd[2];

static void *blocker(void *arg)
{
	(void)arg;
	worker_tid = gettid_();
	ready = 1;
	int r = 0;
	if (strcmp(blocked_call, "nanosleep") == 0) {
		struct timespec ts = {30, 0};
		r = nanosleep(&ts, NULL);
	} else if (strcmp(blocked_call, "read") == 0) {
		char c;
		r = read(pipefd[0], &c, 1);
	} else if (strcmp(blocked_call, "futex") == 0) {
		struct timespec ts = {30, 0};
		r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	}
	blocked_errno = r < 0 ? errno : 0;
	finished = 1;
	return NULL;
}

/* The signal-thread pattern: every thread blocks SIGTERM, one takes it
 * with sigwait. */
static sigset_t waitset;

static void *sigwaiter(void *arg)
{
	int sig = 0;
	sigwait(&waitset, &sig);
	return (void *)(long)sig;
}

static void wait_ready(void)
{
	while (!ready)
		usleep(1000);
	usleep(100000); /* let it reach its blocking call */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "mutex";
	pthread_t th[NT];
	if (strcmp(mode, "mutex") == 0) {
		for (int k = 0; k < NT; k++)
			pthread_create(&th[k], NULL, adder, (void *)20000L);
		for (int k = 0; k < NT; k++)
			pthread_join(th[k], NULL);
		printf("counter=%ld\n", counter);
		return 0;
	}
	if (strcmp(mode, "condvar") == 0) {
		for (int k = 0; k < NT; k++)
			pthread_create(&th[k], NULL, producer, (void *)(k * 1000L));
		long sum = 0;
		for (int got = 0; got < NT * 200; got++) {
			pthread_mutex_lock(&mu);
			while (qn == 0)
				pthread_cond_wait(&notempty, &mu);
			sum += q[qhead];
			qhead = (qhead + 1) % QCAP;
			qn--;
			pthread_cond_signal(&notfull);
			pthread_mutex_unlock(&mu);
		}
		for (int k = 0; k < NT; k++)
			pthread_join(th[k], NULL);
		printf("consumed sum=%ld\n", sum);
		return 0;
	}
	if (strcmp(mode, "pthread_kill") == 0 || strcmp(mode, "tgkill") == 0) {
		handle(SIGUSR1);
		pthread_create(&th[0], NULL, waiter, NULL);
		wait_ready();
		if (mode[0] == 'p')
			pthread_kill(th[0], SIGUSR1);
		else
			syscall(SYS_tgkill, getpid(), worker_tid, SIGUSR1);
		pthread_join(th[0], NULL);
		printf("%s: handled=%d in_target=%d\n", mode, handled, handled_in == worker_tid);
		return 0;
	}
	if (strcmp(mode, "process_signal") == 0) {
		/* Main blocks SIGUSR2; the worker unblocks it: a signal sent to
		 * the process can only be taken by the worker. */
		handle(SIGUSR2);
		sigset_t s, old;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		pthread_create(&th[0], NULL, unblocker, (void *)(long)SIGUSR2);
		wait_ready();
		kill(getpid(), SIGUSR2);
		pthread_join(th[0], NULL);
		pthread_sigmask(SIG_BLOCK, NULL, &old);
		printf("process signal: handled=%d in_worker=%d main_still_blocks=%d\n", handled,
		       handled_in == worker_tid, sigismember(&old, SIGUSR2));
		return 0;
	}
	if (strcmp(mode, "remote_tgkill") == 0 || strcmp(mode, "remote_kill_tid") == 0) {
		/* Another process signals a thread by its id: tgkill reaches
		 * that thread; kill(tid) reaches the process, here taken by
		 * the only thread that does not block the signal. */
		handle(SIGUSR1);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		pthread_create(&th[0], NULL, unblocker, (void *)(long)SIGUSR1);
		wait_ready();
		pid_t parent = getpid(), target = worker_tid;
		pid_t c = fork();
		if (c == 0) {
			int r;
			if (mode[7] == 't')
				r = syscall(SYS_tgkill, parent, target, SIGUSR1);
			else
				r = kill(target, SIGUSR1);
			_exit(r == 0 ? 0 : 1);
		}
		int st;
		waitpid(c, &st, 0);
		pthread_join(th[0], NULL);
		printf("%s: child status %d handled=%d in_target=%d\n", mode, WEXITSTATUS(st), handled,
		       handled_in == target);
		return 0;
	}
	if (strcmp(mode, "sigwait_thread") == 0) {
		sigemptyset(&waitset);
		sigaddset(&waitset, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &waitset, NULL);
		void *r1, *r2;
		pthread_create(&th[0], NULL, sigwaiter, NULL);
		usleep(50000);
		kill(getpid(), SIGTERM); /* from the process itself */
		pthread_join(th[0], &r1);
		pid_t me = getpid();
		pthread_create(&th[0], NULL, sigwaiter, NULL);
		usleep(50000);
		pid_t c = fork();
		if (c == 0) {
			kill(me, SIGTERM); /* from another process */
			_exit(0);
		}
		waitpid(c, NULL, 0);
		pthread_join(th[0], &r2);
		printf("sigwait in a thread got %ld then %ld\n", (long)r1, (long)r2);
		return 0;
	}
	if (strcmp(mode, "masks") == 0) {
		/* Each thread has its own mask; a new thread inherits its
		 * creator's. */
		sigset_t s, got;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		pthread_create(&th[0], NULL, (void *(*)(void *))unblocker, (void *)(long)SIGUSR1);
		wait_ready();
		pthread_sigmask(SIG_BLOCK, NULL, &got);
		printf("main blocks SIGUSR1: %d\n", sigismember(&got, SIGUSR1));
		handle(SIGUSR1);
		kill(getpid(), SIGUSR1);
		pthread_join(th[0], NULL);
		printf("taken by the thread that unblocked it: %d\n", handled_in == worker_tid);
		return 0;
	}
	if (strncmp(mode, "interrupt_", 10) == 0) {
		blocked_call = mode + 10;
		if (pipe(pipefd) != 0)
			return 1;
		handle(SIGUSR1);
		pthread_create(&th[0], NULL, blocker, NULL);
		wait_ready();
		/* Again until it returns: a signal that came before the call
		 * blocked would leave it blocked. */
		while (!finished) {
			pthread_kill(th[0], SIGUSR1);
			usleep(50000);
		}
		pthread_join(th[0], NULL);
		printf("%s interrupted: errno=%s handled_in_target=%d\n", blocked_call,
		       blocked_errno == EINTR ? "EINTR" : "other", handled_in == worker_tid);
		return 0;
	}
	if (strcmp(mode, "barrier") == 0) {
		pthread_barrier_init(&bar, NULL, NT + 1);
		long total = 0;
		for (int k = 0; k < NT; k++)
			pthread_create(&th[k], NULL, (void *(*)(void *))pthread_barrier_wait, &bar);
		pthread_barrier_wait(&bar);
		for (int k = 0; k < NT; k++) {
			pthread_join(th[k], NULL);
			total++;
		}
		printf("barrier passed by %ld threads\n", total + 1);
		return 0;
	}
	return 99;
}
