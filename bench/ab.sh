#!/usr/bin/env bash
# bench/ab.sh: interleaved before/after comparison of elfuse binaries on the
# three loops of bench/proc.sh. Not a test: it prints a report.
#
#   bash bench/ab.sh OLD_ELFUSE NEW_ELFUSE [MORE...]
#   ROUNDS=5 LOOPS=100 FORKS=100 SPAWNS=100 BACKEND=ptrace bash bench/ab.sh a b
#
# Each round runs every loop once with every binary in turn, so a change of
# load during the run weighs on all of them; it prints the median and the
# minimum of the rounds per binary and loop (microseconds per operation).
set -euo pipefail

cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 ELFUSE_A ELFUSE_B [...]" >&2; exit 2; }
BACKEND=${BACKEND:-ptrace}
ROUNDS=${ROUNDS:-5}
LOOPS=${LOOPS:-100}
FORKS=${FORKS:-100}
SPAWNS=${SPAWNS:-100}
BUSYBOX=${BUSYBOX:-/bin/busybox}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The guests are the ones bench/proc.sh builds (same sources).
for prog in forkbench spawnbench; do
	sed -n "/cat >\"\$work\/$prog.c\"/,/^EOF/p" bench/proc.sh | sed '1d;$d' >"$work/$prog.c"
	gcc -static -O2 -o "$work/$prog" "$work/$prog.c"
done
gcc -static -O2 -o "$work/hello" bench/src/hello.c

now_ns() { date +%s%N; }
shell_loop() {
	local t0 t1 out
	t0=$(now_ns)
	out=$("$@" "$BUSYBOX" sh -c 'i=0; while [ $i -lt '"$LOOPS"' ]; do "$0" >/dev/null || exit 1; i=$((i+1)); done; echo $i' "$work/hello") || return 1
	t1=$(now_ns)
	[ "$out" = "$LOOPS" ] || return 1
	awk -v ns="$((t1 - t0))" -v n="$LOOPS" 'BEGIN {printf "%.1f\n", ns / n / 1000}'
}

declare -A res
bins=("$@")
for ((r = 0; r < ROUNDS; r++)); do
	for i in "${!bins[@]}"; do
		e=("${bins[$i]}" --backend "$BACKEND" --log-level error --)
		res[$i,sh]+="$(shell_loop "${e[@]}" || echo fail) "
		res[$i,fork]+="$("${e[@]}" "$work/forkbench" "$FORKS" 2>/dev/null || echo fail) "
		res[$i,spawn]+="$("${e[@]}" "$work/spawnbench" "$work/hello" "$SPAWNS" 2>/dev/null || echo fail) "
	done
	echo "round $((r + 1))/$ROUNDS done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done

stats() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "n/a"; exit}; m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median %8.1f  min %8.1f  (n=%d)\n", m, v[1], NR}'; }
for loop in sh fork spawn; do
	for i in "${!bins[@]}"; do
		printf '%-6s %-40s %s\n' "$loop" "${bins[$i]}" "$(echo "${res[$i,$loop]}" | stats)"
		printf '       all: %s\n' "${res[$i,$loop]}"
	done
done
