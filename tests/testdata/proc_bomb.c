// proc_bomb: a fork bomb, run only under elfuse with --max-procs: every
// process forks until fork fails, then waits to be killed. The first process
// reports how fork failed and exits, which ends the tree.
//
// A hard cap (a counter in shared memory) stops the bomb at 300 processes
// even if the limit is not enforced, so a broken elfuse cannot take the
// machine down; the test's subreaper kills whatever survives.
#include "proc_common.h"

#include <sys/mman.h>

enum { CAP = 300 };

int main(int argc, char **argv) {
	int limit = argc > 1 ? atoi(argv[1]) : 50;
	int *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (count == MAP_FAILED)
		fail("mmap");
	*count = 1;
	pid_t root = getpid();
	int err = 0;
	for (;;) {
		if (__atomic_load_n(count, __ATOMIC_SEQ_CST) >= CAP) {
			err = -1;
			break;
		}
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			__atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
			continue; // the child forks too
		}
	}
	if (getpid() != root)
		for (;;)
			pause();
	// Let the rest of the tree hit the limit as well.
	msleep(500);
	int n = __atomic_load_n(count, __ATOMIC_SEQ_CST);
	if (err < 0)
		printf("no limit: the cap of %d processes was reached\n", CAP);
	else
		printf("fork failed with %s\n", errname(err));
	printf("processes within --max-procs %d: %d\n", limit, n <= limit);
	printf("limit reached: %d\n", n >= limit / 2);
	fflush(stdout);
	return err == EAGAIN ? 0 : 1;
}
