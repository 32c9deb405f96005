#!/usr/bin/env bash
# Installs the Debian packages the test suite and bench/ use, idempotently:
# nothing is downloaded when everything is already there.
#   busybox-static  the static multi-call binary most differential cases run
#   bash-static     a static shell for later cases
#   gcc, musl-tools static C guest programs (glibc and musl)
#   strace          the suite's check that no busybox case forks
#   proot           bench/: the ptrace-based tool elfuse is compared with
#   debootstrap     tests/mksysroot.sh: the Debian root of the --sysroot
#                   cases, built once (about 4 minutes) and cached
#   python3-minimal the host python3 of the socket and /proc cases
set -euo pipefail

packages=(busybox-static bash-static gcc libc6-dev musl-tools strace proot debootstrap python3-minimal iproute2)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -ne 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "tests/setup.sh: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The --sysroot cases' Debian root (a no-op when it is cached). Only root
# can build it; others get the cases skipped, with the reason.
if [ "$(id -u)" -eq 0 ]; then
	bash "$(dirname "$0")/mksysroot.sh" >/dev/null
elif ! bash "$(dirname "$0")/mksysroot.sh" >/dev/null 2>&1; then
	echo "tests/setup.sh: no Debian sysroot (tests/mksysroot.sh needs root); its cases will skip" >&2
fi
