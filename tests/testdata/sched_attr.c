// sched_attr: sched_getattr and sched_setattr on the caller, a child and a
// pid that does not exist, with the size checks of struct sched_attr.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
struct sa { uint32_t size, policy; uint64_t flags; int32_t nice; uint32_t prio; uint64_t rt, dl, per; uint32_t umin, umax; };
static void show(const char *w, pid_t p) {
	struct sa a; memset(&a, 0xff, sizeof a);
	long r = syscall(SYS_sched_getattr, p, &a, sizeof a, 0);
	if (r < 0) { printf("%s: %s\n", w, strerror(errno)); return; }
	printf("%s: size %u policy %u nice %d prio %u\n", w, a.size, a.policy, a.nice, a.prio);
}
int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	show("self", 0);
	struct sa a = {.size = 48, .policy = SCHED_BATCH, .nice = 3};
	printf("setattr batch nice 3: %ld\n", syscall(SYS_sched_setattr, 0, &a, 0));
	show("self after", 0);
	struct sa big[2]; memset(big, 0, sizeof big); big[0].size = 4097;
	long r = syscall(SYS_sched_setattr, 0, big, 0);
	printf("setattr size 4097: %ld %s, size now %u\n", r, r < 0 ? strerror(errno) : "", big[0].size);
	printf("getattr size 8: %s\n", syscall(SYS_sched_getattr, 0, &a, 8, 0) < 0 ? strerror(errno) : "ok");
	pid_t c = fork();
	if (c == 0) { pause(); _exit(0); }
	usleep(10000);
	show("child", c);
	show("no such pid", 999999);
	kill(c, 9); waitpid(c, 0, 0);
	return 0;
}
