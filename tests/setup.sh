#!/usr/bin/env bash
# Installs the Debian packages the test suite and bench/ use, idempotently:
# nothing is downloaded when everything is already there.
#   busybox-static  the static multi-call binary most differential cases run
#   bash-static     a static shell for later cases
#   gcc, musl-tools static C guest programs (glibc and musl)
#   strace          the suite's check that no busybox case forks
#   proot           bench/: the ptrace-based tool elfuse is compared with
set -euo pipefail

packages=(busybox-static bash-static gcc libc6-dev musl-tools strace proot)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "tests/setup.sh: missing packages ${missing[*]}; run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
