// gaps_pifutex: priority-inheritance futexes. pthread mutexes with
// PTHREAD_PRIO_INHERIT shared by threads incrementing a counter, trylock,
// robust PI mutexes whose owner exits (EOWNERDEAD, also to a thread already
// waiting), a condition variable on a PI mutex, and the raw futex protocol:
// the word holds the owner's thread id, FUTEX_WAITERS, FUTEX_OWNER_DIED;
// EDEADLK, ESRCH, EPERM, EAGAIN, ETIMEDOUT; unlock hands the lock to the
// waiter. Prints relations, never thread ids.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// From linux/futex.h, which musl's toolchain lacks.
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_LOCK_PI2 13
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_LOCK_PI_PRIVATE (FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_UNLOCK_PI_PRIVATE (FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_TRYLOCK_PI_PRIVATE (FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
#define FUTEX_TID_MASK 0x3fffffffu

static pid_t tid(void) { return syscall(SYS_gettid); }

static long futex(_Atomic uint32_t *w, int op, const struct timespec *ts) {
	return syscall(SYS_futex, w, op, 0, ts, NULL, 0);
}

static const char *res(long r) { return r < 0 ? strerror(errno) : "ok"; }

// ---- pthread mutexes ----

#define THREADS 4
#define ROUNDS 3000

static pthread_mutex_t m;
static long counter;

static void *inc(void *arg) {
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&m);
		counter++;
		if (i % 64 == 0)
			sched_yield(); // hold it a while: contention
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static void *try_it(void *arg) {
	(void)arg;
	int r = pthread_mutex_trylock(&m);
	printf("trylock held by another thread: %s\n", r ? strerror(r) : "ok");
	return NULL;
}

static void init_pi(pthread_mutex_t *mx, int robust) {
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	if (pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT) != 0)
		printf("setprotocol failed\n");
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(mx, &a);
	pthread_mutexattr_destroy(&a);
}

static pthread_mutex_t rm;
static _Atomic int held;

static void *lock_and_exit(void *arg) {
	(void)arg;
	pthread_mutex_lock(&rm);
	held = 1;
	return NULL; // exits owning it
}

static void *lock_wait_exit(void *arg) {
	(void)arg;
	pthread_mutex_lock(&rm);
	held = 1;
	while (held != 2)
		sched_yield();
	usleep(20000); // let the waiter block in the kernel
	return NULL;
}

static void *robust_waiter(void *arg) {
	(void)arg;
	int r = pthread_mutex_lock(&rm);
	printf("waiter when the owner died: %s\n", r ? strerror(r) : "ok");
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&rm);
	pthread_mutex_unlock(&rm);
	return NULL;
}

static pthread_mutex_t cm;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, pings;

static void *pong(void *arg) {
	(void)arg;
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&cm);
		while (turn != 1)
			pthread_cond_wait(&cv, &cm);
		turn = 0;
		pings++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&cm);
	}
	return NULL;
}

// ---- raw futex protocol ----

static _Atomic uint32_t word;
static _Atomic int stage;
static _Atomic pid_t holder_tid;

static void *holder(void *arg) {
	(void)arg;
	uint32_t zero = 0;
	holder_tid = tid();
	if (!atomic_compare_exchange_strong(&word, &zero, (uint32_t)tid()))
		printf("holder: word not free\n");
	stage = 1;
	while (stage < 2)
		sched_yield();
	// The timed-out lock attempts left FUTEX_WAITERS set, so unlocking
	// takes the kernel; give the contender time to wait there too (it
	// gets the lock either way, from the handoff or a free word).
	while (stage < 3)
		sched_yield();
	usleep(50000);
	uint32_t me = (uint32_t)tid();
	if (atomic_compare_exchange_strong(&word, &me, 0))
		printf("holder: unlocked in user space despite a waiter\n");
	long r = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);
	printf("holder: unlock with a waiter: %s\n", res(r));
	stage = 4;
	return NULL;
}

static void *contender(void *arg) {
	(void)arg;
	stage = 3;
	long r = futex(&word, FUTEX_LOCK_PI_PRIVATE, NULL);
	uint32_t v = word;
	while (stage < 4) // print after the holder
		sched_yield();
	printf("contender: lock: %s, owner is me: %s\n", res(r), (v & FUTEX_TID_MASK) == (uint32_t)tid() ? "yes" : "no");
	r = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);
	printf("contender: unlock: %s, word now %s\n", res(r), word == 0 ? "free" : "not free");
	return NULL;
}

static void raw(void) {
	uint32_t me = (uint32_t)tid();
	word = 0;
	long r = futex(&word, FUTEX_LOCK_PI_PRIVATE, NULL);
	printf("lock free word: %s, word is my id: %s\n", res(r), word == me ? "yes" : "no");
	r = futex(&word, FUTEX_LOCK_PI_PRIVATE, NULL);
	printf("lock own word: %s\n", res(r));
	r = futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, NULL);
	printf("trylock own word: %s\n", res(r));
	r = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);
	printf("unlock: %s, word now %s\n", res(r), word == 0 ? "free" : "not free");
	r = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);
	printf("unlock free word: %s\n", res(r));
	r = futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, NULL);
	printf("trylock free word: %s, word is my id: %s\n", res(r), word == me ? "yes" : "no");
	futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);

	word = 0x3ffffff0; // no such thread
	r = futex(&word, FUTEX_LOCK_PI_PRIVATE, NULL);
	printf("lock word of a missing owner: %s\n", res(r));
	r = futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, NULL);
	printf("trylock word of a missing owner: %s\n", res(r));
	r = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);
	printf("unlock another's word: %s\n", res(r));
	word = FUTEX_OWNER_DIED;
	r = futex(&word, FUTEX_LOCK_PI_PRIVATE, NULL);
	printf("lock word whose owner died: %s, owner-died bit kept: %s, owner is me: %s\n", res(r),
	       word & FUTEX_OWNER_DIED ? "yes" : "no", (word & FUTEX_TID_MASK) == me ? "yes" : "no");
	r = futex(&word, FUTEX_UNLOCK_PI_PRIVATE, NULL);
	printf("unlock it: %s, word now %s\n", res(r), word == 0 ? "free" : "not free");

	// Held by another thread: trylock, timeouts, then a handoff.
	word = 0;
	stage = 0;
	pthread_t h, c;
	pthread_create(&h, NULL, holder, NULL);
	while (stage < 1)
		sched_yield();
	r = futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, NULL);
	printf("trylock held word: %s\n", res(r));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 30 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	r = futex(&word, FUTEX_LOCK_PI_PRIVATE, &ts);
	printf("lock held word until a deadline: %s, owner kept: %s, waiters bit: %s\n", res(r),
	       (word & FUTEX_TID_MASK) == (uint32_t)holder_tid ? "yes" : "no", word & FUTEX_WAITERS ? "set" : "clear");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 30 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	r = futex(&word, FUTEX_LOCK_PI2 | FUTEX_PRIVATE_FLAG, &ts);
	printf("lock_pi2 held word until a monotonic deadline: %s\n", res(r));
	stage = 2;
	pthread_create(&c, NULL, contender, NULL);
	pthread_join(h, NULL);
	pthread_join(c, NULL);
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	raw();

	init_pi(&m, 0);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, inc, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	printf("counter: %ld (want %d)\n", counter, THREADS * ROUNDS);

	pthread_mutex_lock(&m);
	pthread_t t1;
	pthread_create(&t1, NULL, try_it, NULL);
	pthread_join(t1, NULL);
	pthread_mutex_unlock(&m);
	int r = pthread_mutex_trylock(&m);
	printf("trylock free: %s\n", r ? strerror(r) : "ok");
	pthread_mutex_unlock(&m);

	// Robust PI: the owner exits holding it.
	init_pi(&rm, 1);
	pthread_create(&t1, NULL, lock_and_exit, NULL);
	pthread_join(t1, NULL);
	r = pthread_mutex_lock(&rm);
	printf("lock after the owner exited: %s\n", r ? strerror(r) : "ok");
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&rm);
		pthread_mutex_unlock(&rm);
		r = pthread_mutex_lock(&rm);
		printf("lock once consistent: %s\n", r ? strerror(r) : "ok");
	}
	pthread_mutex_unlock(&rm);

	// ... and with a thread already waiting for it.
	held = 0;
	pthread_t owner, waiter;
	pthread_create(&owner, NULL, lock_wait_exit, NULL);
	while (held != 1)
		sched_yield();
	pthread_create(&waiter, NULL, robust_waiter, NULL);
	held = 2;
	pthread_join(owner, NULL);
	pthread_join(waiter, NULL);

	// A condition variable on a PI mutex.
	init_pi(&cm, 0);
	pthread_create(&t1, NULL, pong, NULL);
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&cm);
		turn = 1;
		pthread_cond_signal(&cv);
		while (turn != 0)
			pthread_cond_wait(&cv, &cm);
		pthread_mutex_unlock(&cm);
	}
	pthread_join(t1, NULL);
	printf("ping-pong on a PI mutex: %d rounds\n", pings);
	return 0;
}
