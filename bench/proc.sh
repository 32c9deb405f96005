#!/usr/bin/env bash
# bench/proc.sh: the cost of making processes, native vs proot vs elfuse on
# this machine, in one run, as ratios. Not a test: it prints a report.
#
#   bash bench/proc.sh                 # backend auto (kvm if /dev/kvm and not PVM, else ptrace)
#   BACKEND=ptrace bash bench/proc.sh
#   LOOPS=300 FORKS=200 SPAWNS=200 REPEAT=3 bash bench/proc.sh
#
# Measures (best of REPEAT runs each)
#   1. fork+exec+wait: busybox sh running a static program LOOPS times
#      (wall time of the whole shell, in microseconds per iteration).
#   2. fork alone: a static C program with 4 MiB resident (malloc'd and
#      touched) forking FORKS children that _exit(0) at once, each waited
#      for; microseconds per fork+wait, timed inside the program.
#   3. posix_spawn: SPAWNS posix_spawn+waitpid of the static hello, timed
#      inside the program (glibc spawns with clone(CLONE_VM|CLONE_VFORK)).
# Goal (issue 3): elfuse beats proot on all three.
# Requires gcc (static glibc) and busybox; proot is optional.
set -euo pipefail

cd "$(dirname "$0")/.."
BACKEND=${BACKEND:-auto}
LOOPS=${LOOPS:-300}
FORKS=${FORKS:-200}
SPAWNS=${SPAWNS:-200}
REPEAT=${REPEAT:-3}
BUSYBOX=${BUSYBOX:-/bin/busybox}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/forkbench.c" <<'EOF'
// forkbench N: N fork+_exit+waitpid with 4 MiB resident; prints us per fork.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100;
	size_t size = 4 << 20;
	char *mem = malloc(size);
	if (!mem)
		return 1;
	memset(mem, 1, size); // resident, private: fork must give the child a copy
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0)
			_exit(mem[i % size] == 1 ? 0 : 1);
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n / 1000);
	return 0;
}
EOF
cat >"$work/spawnbench.c" <<'EOF'
// spawnbench PROG N: N posix_spawn(PROG)+waitpid; prints us per spawn.
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	char *args[] = {argv[1], NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pid_t p;
		if (posix_spawn(&p, argv[1], &fa, NULL, args, environ) != 0)
			return 1;
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n / 1000);
	return 0;
}
EOF

echo "building elfuse and the bench guests in $work" >&2
CGO_ENABLED=0 go build -o "$work/elfuse" ./cmd/elfuse # static: no ld.so/libc at each start
gcc -static -O2 -o "$work/hello" bench/src/hello.c
gcc -static -O2 -o "$work/forkbench" "$work/forkbench.c"
gcc -static -O2 -o "$work/spawnbench" "$work/spawnbench.c"

elfuse=("$work/elfuse" --backend "$BACKEND" --log-level error --)
have_proot=0
if command -v proot >/dev/null 2>&1; then
	have_proot=1
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b+0==0) print "n/a"; else printf "%.2f", a/b}'; }
now_ns() { date +%s%N; }

# best-of-REPEAT (minimum) of a command that prints one number
best() {
	local i out vals=()
	for ((i = 0; i < REPEAT; i++)); do
		out=$("$@" 2>/dev/null) || { echo "failed"; return; }
		vals+=("$out")
	done
	printf '%s\n' "${vals[@]}" | sort -g | head -1
}

# shell_loop RUNNER...: us per iteration of the busybox loop, wall time.
# The loop prints its count, so a runner that cannot fork or exec fails
# instead of timing nothing.
shell_loop() {
	local t0 t1 out
	t0=$(now_ns)
	out=$("$@" "$BUSYBOX" sh -c 'i=0; while [ $i -lt '"$LOOPS"' ]; do "$0" >/dev/null || exit 1; i=$((i+1)); done; echo $i' "$work/hello") || return 1
	t1=$(now_ns)
	[ "$out" = "$LOOPS" ] || return 1
	awk -v ns="$((t1 - t0))" -v n="$LOOPS" 'BEGIN {printf "%.1f\n", ns / n / 1000}'
}

# row LABEL NATIVE PROOT ELFUSE: one result line with ratios.
row() {
	printf '%-34s %10s %10s %10s   %8s %8s %8s\n' "$1" "$2" "$3" "$4" \
		"$(ratio "$4" "$2")" "$(ratio "$3" "$2")" "$(ratio "$4" "$3")"
}

backend_name=$BACKEND
if [ "$BACKEND" = auto ]; then
	if [ -d /sys/module/kvm_pvm ]; then backend_name="auto (ptrace: /dev/kvm is PVM)"
	elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then backend_name="auto (kvm)"; else backend_name="auto (ptrace: no usable /dev/kvm)"; fi
fi
echo "elfuse process bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), backend $backend_name"
echo "microseconds per operation, best of $REPEAT; ratios: elfuse/native, proot/native, elfuse/proot (goal < 1)"
echo
printf '%-34s %10s %10s %10s   %8s %8s %8s\n' "" native proot elfuse e/n p/n e/p

proot_cmd=()
[ "$have_proot" = 1 ] && proot_cmd=(proot)

n1=$(best shell_loop)
p1=n/a
[ "$have_proot" = 1 ] && p1=$(best shell_loop "${proot_cmd[@]}")
e1=$(best shell_loop "${elfuse[@]}")
row "1. sh loop: fork+exec+wait x$LOOPS" "$n1" "$p1" "$e1"

n2=$(best "$work/forkbench" "$FORKS")
p2=n/a
[ "$have_proot" = 1 ] && p2=$(best proot "$work/forkbench" "$FORKS")
e2=$(best "${elfuse[@]}" "$work/forkbench" "$FORKS")
row "2. fork+wait, 4 MiB resident" "$n2" "$p2" "$e2"

n3=$(best "$work/spawnbench" "$work/hello" "$SPAWNS")
p3=n/a
[ "$have_proot" = 1 ] && p3=$(best proot "$work/spawnbench" "$work/hello" "$SPAWNS")
e3=$(best "${elfuse[@]}" "$work/spawnbench" "$work/hello" "$SPAWNS")
row "3. posix_spawn+wait" "$n3" "$p3" "$e3"

echo
beats=0
for pair in "$e1 $p1" "$e2 $p2" "$e3 $p3"; do
	set -- $pair
	if [ "$(ratio "$1" "$2")" != n/a ] && awk -v r="$(ratio "$1" "$2")" 'BEGIN {exit !(r < 1)}'; then
		beats=$((beats + 1))
	fi
done
echo "elfuse beats proot on $beats of 3 (goal: 3)"
exit 0
