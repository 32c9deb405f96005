#!/usr/bin/env bash
# bench/make.sh: `make -j2` of the generated multi-module C project
# (tests/testdata/sysroot/genproject.sh) from the Debian sysroot, natively
# in a chroot, under proot and under elfuse, in one run, with the ratios.
# Not a test: it prints a report. Needs root (chroot, bind mount) and the
# sysroot that tests/mksysroot.sh builds.
#
#   bash bench/make.sh                         # backend auto
#   ELFUSE_BACKEND=ptrace REPEAT=5 MODULES=48 bash bench/make.sh
#   ELFUSE_BASE=/tmp/elfuse-old bash bench/make.sh   # also time another build
#
# Every run builds a fresh copy of the project (so nothing is up to date),
# shown at the same guest path in the root for all three: a bind mount for
# the chroot, -b for proot, --bind for elfuse. The time is the wall time of
# `make -j2 all` only; the built program is then run once and its output
# checked against the native build's, so a broken build cannot look fast.
# The runners take turns (one build each per round), so a change of machine
# load during the run weighs on all of them alike. ELFUSE_BASE names a second
# elfuse binary (say, a build of the previous commit) timed the same way, for
# before/after figures from one run.
set -euo pipefail

cd "$(dirname "$0")/.."
S=${ELFUSE_SYSROOT:-/var/cache/elfuse-sysroot/bookworm}
BACKEND=${ELFUSE_BACKEND:-auto}
REPEAT=${REPEAT:-3}
MODULES=${MODULES:-24}
JOBS=${JOBS:-2}

if [ "$(id -u)" != 0 ]; then
	echo "bench/make.sh needs root (native chroot and bind mounts)" >&2
	exit 1
fi
if [ ! -e "$S/.elfuse-sysroot-ok" ]; then
	echo "no sysroot at $S: build it with tests/mksysroot.sh" >&2
	exit 1
fi

work=$(mktemp -d)
guest=/tmp/elfuse-bench-make-$$
mnt=$S$guest
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt"; fi
	rmdir "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$mnt"

echo "building elfuse in $work" >&2
CGO_ENABLED=0 go build -o "$work/elfuse" ./cmd/elfuse # static: no ld.so/libc at each start

backend_name=$BACKEND
if [ "$BACKEND" = auto ]; then
	if [ -d /sys/module/kvm_pvm ]; then
		backend_name="auto (ptrace: /dev/kvm is PVM)"
	elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		backend_name="auto (kvm)"
	else
		backend_name="auto (ptrace: no usable /dev/kvm)"
	fi
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b+0==0) print "n/a"; else printf "%.2f", a/b}'; }
now_ns() { date +%s%N; }

# fresh DIR: a new copy of the project in DIR.
fresh() {
	rm -rf "$1"
	sh tests/testdata/sysroot/genproject.sh "$1" "$MODULES"
}

# Runners: run_X DIR CMD... runs the shell command CMD in the project
# copy DIR, shown at $guest inside the root.
run_native() {
	local dir=$1
	shift
	mount --bind "$dir" "$mnt"
	local rc=0
	chroot "$S" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C bash -c "cd $guest && $*" || rc=$?
	umount "$mnt"
	return $rc
}
run_proot() {
	local dir=$1
	shift
	env -i PATH=/usr/bin:/bin LANG=C proot -r "$S" -b "$dir:$guest" -w "$guest" bash -c "$*"
}
run_elfuse() {
	local dir=$1
	shift
	env -i PATH=/usr/bin:/bin LANG=C "$work/elfuse" --backend "$BACKEND" --log-level error --timeout 0 \
		--sysroot "$S" --bind "$dir:$guest" --workdir "$guest" -- bash -c "$*"
}
run_base() {
	local dir=$1
	shift
	env -i PATH=/usr/bin:/bin LANG=C "$ELFUSE_BASE" --backend "$BACKEND" --log-level error --timeout 0 \
		--sysroot "$S" --bind "$dir:$guest" --workdir "$guest" -- bash -c "$*"
}

# build NAME: one timed fresh build with run_NAME, its milliseconds appended
# to NAME.times ("failed" recorded in NAME.failed).
build() {
	local name=$1 dir="$work/p-$1" t0 t1
	[ -e "$work/$name.failed" ] && return 0
	fresh "$dir"
	t0=$(now_ns)
	if ! "run_$name" "$dir" "make -s -j$JOBS all" >"$work/$name.log" 2>&1; then
		echo "$name: build failed:" >&2
		tail -5 "$work/$name.log" >&2
		touch "$work/$name.failed"
		return 0
	fi
	t1=$(now_ns)
	echo "$(((t1 - t0) / 1000000))" >>"$work/$name.times"
}

# result NAME: the median in seconds after checking the last build's
# program, or "failed".
result() {
	local name=$1 out
	if [ -e "$work/$name.failed" ]; then
		echo failed
		return
	fi
	out=$("run_$name" "$work/p-$name" "./prog" 2>&1 || true)
	if [ "$out" != "$(cat "$work/expected")" ]; then
		echo "$name: the built program's output differs from native" >&2
		echo failed
		return
	fi
	median <"$work/$name.times" | awk '{printf "%.2f\n", $1/1000}'
}

echo "elfuse make bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), backend $backend_name"
echo "project: $MODULES modules + main, make -j$JOBS, median of $REPEAT fresh builds (s wall)"

# The reference output comes from one untimed native build.
fresh "$work/p-ref"
run_native "$work/p-ref" "make -s -j$JOBS all >/dev/null && ./prog" >"$work/expected"

runners="native elfuse"
if command -v proot >/dev/null 2>&1; then
	runners="native proot elfuse"
fi
if [ -n "${ELFUSE_BASE:-}" ]; then
	runners="$runners base"
fi
for ((round = 0; round < REPEAT; round++)); do
	for r in $runners; do
		build "$r"
	done
done
t_native=$(result native)
t_proot=n/a
case " $runners " in *" proot "*) t_proot=$(result proot) ;; esac
t_elfuse=$(result elfuse)

printf '%-28s %10s\n' "native (chroot)" "$t_native" "proot" "$t_proot" "elfuse" "$t_elfuse"
if [ -n "${ELFUSE_BASE:-}" ]; then
	t_base=$(result base)
	printf '%-28s %10s\n' "elfuse base ($(basename "$ELFUSE_BASE"))" "$t_base"
	echo "ratio elfuse / base:         $(ratio "$t_elfuse" "$t_base")"
fi
echo "ratio elfuse / native:       $(ratio "$t_elfuse" "$t_native")   (goal <= 1.5)"
echo "ratio proot / native:        $(ratio "$t_proot" "$t_native")"
echo "ratio elfuse / proot:        $(ratio "$t_elfuse" "$t_proot")   (goal < 1)"
