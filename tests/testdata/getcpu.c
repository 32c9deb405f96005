// getcpu: getcpu(2) and sched_getcpu report a CPU the process may run on
// (seed edge case). The CPU number itself varies, so only relations print.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	unsigned cpu = 9999, node = 9999;
	long r = syscall(SYS_getcpu, &cpu, &node, NULL);
	cpu_set_t set;
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof set, &set);
	printf("getcpu ret=%ld cpu set=%d in affinity=%d node=%u\n", r, cpu != 9999, !!CPU_ISSET(cpu, &set), node);
	r = syscall(SYS_getcpu, &cpu, NULL, NULL);
	printf("getcpu without node ret=%ld cpu in affinity=%d\n", r, !!CPU_ISSET(cpu, &set));
	r = syscall(SYS_getcpu, NULL, &node, NULL);
	printf("getcpu without cpu ret=%ld node=%u\n", r, node);
	int c = sched_getcpu();
	printf("sched_getcpu >= 0: %d in affinity=%d\n", c >= 0, c >= 0 && !!CPU_ISSET(c, &set));
	return 0;
}
