#!/usr/bin/env bash
# bench/run.sh: elfuse against native (and proot, where it means something)
# on this machine, in one run, as ratios. Not a test: it prints a report.
#
#   bash bench/run.sh                  # backend auto (kvm if /dev/kvm and not PVM, else ptrace)
#   BACKEND=ptrace bash bench/run.sh
#   SYSCALLS=200000 COMPUTE=1000000000 STARTS=50 bash bench/run.sh
#
# Measures
#   1. syscall: ns per getppid(2) in a tight raw-syscall loop, next to the
#      exit floor measured in the same run: the same loop with an unassigned
#      syscall number, which takes the cheapest path (table miss -> ENOSYS).
#      Also the backend's own Go benchmark of a bare exit/resume without the
#      kernel, when the package has one (GOBENCH=0 skips it).
#   2. compute: a pure CPU loop timed inside the guest, native vs elfuse.
#   3. start-up: wall time of a static hello, median of STARTS runs.
# Requires gcc (static glibc); proot is optional.
set -euo pipefail

cd "$(dirname "$0")/.."
BACKEND=${BACKEND:-auto}
SYSCALLS=${SYSCALLS:-100000}
COMPUTE=${COMPUTE:-500000000}
STARTS=${STARTS:-30}
REPEAT=${REPEAT:-5}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building elfuse and the bench guests in $work" >&2
CGO_ENABLED=0 go build -o "$work/elfuse" ./cmd/elfuse # static: no ld.so/libc at each start
for p in sysloop compute hello; do
	gcc -static -O2 -o "$work/$p" "bench/src/$p.c"
done

elfuse=("$work/elfuse" --backend "$BACKEND" --log-level error --)
have_proot=0
if command -v proot >/dev/null 2>&1; then
	have_proot=1
fi

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
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

# best_pair PREFIX...: best-of-REPEAT of "sysloop getppid" and "sysloop
# enosys" under PREFIX (empty: native), run alternately so that a change of
# machine load between them cannot bias their ratio. Prints "getppid enosys".
best_pair() {
	local i a b as=() bs=()
	for ((i = 0; i < REPEAT; i++)); do
		a=$("$@" "$work/sysloop" getppid "$SYSCALLS" 2>/dev/null) || a=failed
		b=$("$@" "$work/sysloop" enosys "$SYSCALLS" 2>/dev/null) || b=failed
		as+=("$a")
		bs+=("$b")
	done
	echo "$(printf '%s\n' "${as[@]}" | sort -g | head -1) $(printf '%s\n' "${bs[@]}" | sort -g | head -1)"
}

backend_name=$BACKEND
resolved=$BACKEND
if [ "$BACKEND" = auto ]; then
	if [ -d /sys/module/kvm_pvm ]; then
		backend_name="auto (ptrace: /dev/kvm is PVM)"
		resolved=ptrace
	elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		resolved=kvm
		backend_name="auto (kvm)"
	else
		resolved=ptrace
		backend_name="auto (ptrace: no usable /dev/kvm)"
	fi
fi
echo "elfuse bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), backend $backend_name"
echo

echo "== 1. syscall cost (ns per call, best of $REPEAT, $SYSCALLS calls)"
read -r n_getppid n_enosys <<<"$(best_pair)"
read -r e_getppid e_floor <<<"$(best_pair "${elfuse[@]}")"
printf '%-34s %12s\n' "native getppid" "$n_getppid"
printf '%-34s %12s\n' "native ENOSYS" "$n_enosys"
printf '%-34s %12s\n' "elfuse getppid" "$e_getppid"
printf '%-34s %12s\n' "elfuse exit floor (ENOSYS)" "$e_floor"
if [ "$have_proot" = 1 ]; then
	p_getppid=$(best proot "$work/sysloop" getppid "$SYSCALLS")
	printf '%-34s %12s\n' "proot getppid" "$p_getppid"
fi
echo "ratio elfuse getppid / floor:      $(ratio "$e_getppid" "$e_floor")   (goal <= 1.3)"
echo "ratio elfuse getppid / native:     $(ratio "$e_getppid" "$n_getppid")"
[ "$have_proot" = 1 ] && echo "ratio proot getppid / native:      $(ratio "$p_getppid" "$n_getppid")"
if [ "${GOBENCH:-1}" = 1 ]; then
	# The backend's bare exit/resume, without the kernel: its own Go
	# benchmark (a guest doing SYSCALL in a loop, answered by the test).
	# ptrace: the seccomp listener's round trip (notify.go), or the
	# PTRACE_SYSEMU stop's with ELFUSE_PTRACE_NOTIFY=0.
	pat='SyscallRoundTrip|SyscallExit|ExitRoundTrip'
	case "$resolved" in
	kvm) pkgs=(./hvf) ;;
	*)
		pkgs=(./hvf/ptrace)
		[ "${ELFUSE_PTRACE_NOTIFY:-1}" = 0 ] || pat='NotifyRoundTrip'
		;;
	esac
	bare=failed
	for pkg in "${pkgs[@]}"; do
		lines=$(go test -run '^$' -bench "$pat" -benchtime "${SYSCALLS}x" -count "$REPEAT" "$pkg" 2>/dev/null | grep -E '^Benchmark' || true)
		if [ -n "$lines" ]; then
			bare=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") print $i}' <<<"$lines" | sort -g | head -1)
			echo "-- $pkg: $(head -1 <<<"$lines" | awk '{print $1}'), best of $REPEAT"
		fi
	done
	printf '%-34s %12s\n' "bare backend exit (go bench)" "${bare:-failed}"
	echo "ratio elfuse getppid / bare exit:  $(ratio "$e_getppid" "${bare:-x}")"
fi
echo
echo

echo "== 2. compute loop (ms inside the guest, best of $REPEAT, $COMPUTE iterations)"
n_comp=$(best "$work/compute" "$COMPUTE")
e_comp=$(best "${elfuse[@]}" "$work/compute" "$COMPUTE")
printf '%-34s %12s\n' "native" "$n_comp" "elfuse" "$e_comp"
if [ "$have_proot" = 1 ]; then
	p_comp=$(best proot "$work/compute" "$COMPUTE")
	printf '%-34s %12s\n' "proot" "$p_comp"
fi
echo "speed elfuse / native:             $(ratio "$n_comp" "$e_comp")   (goal >= 0.97)"
[ "$have_proot" = 1 ] && echo "speed proot / native:              $(ratio "$n_comp" "$p_comp")"
echo

echo "== 3. start-up of a static hello (ms wall, median of $STARTS runs)"
startup() {
	local i t0 t1 out
	if [ "$("$@" 2>/dev/null)" != hello ]; then
		echo "failed"
		return
	fi
	for ((i = 0; i < STARTS; i++)); do
		t0=$(now_ns)
		"$@" >/dev/null 2>&1 || true
		t1=$(now_ns)
		echo "$(( (t1 - t0) / 1000 ))"
	done | median | awk '{printf "%.2f\n", $1/1000}'
}
n_start=$(startup "$work/hello")
e_start=$(startup "${elfuse[@]}" "$work/hello")
printf '%-34s %12s\n' "native" "$n_start" "elfuse" "$e_start"
if [ "$have_proot" = 1 ]; then
	p_start=$(startup proot "$work/hello")
	printf '%-34s %12s\n' "proot" "$p_start"
fi
echo "ratio elfuse / native:             $(ratio "$e_start" "$n_start")   (goal: elfuse <= 20 ms)"
[ "$have_proot" = 1 ] && echo "ratio proot / native:              $(ratio "$p_start" "$n_start")"
exit 0
