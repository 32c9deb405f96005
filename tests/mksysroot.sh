#!/usr/bin/env bash
# Builds a Debian bookworm root file system for `elfuse --sysroot` once and
# caches it: variant minbase plus make, gcc, libc6-dev and python3-minimal.
# A finished root carries a stamp file; when the stamp is present nothing is
# downloaded and the script only prints the directory.
#
#   tests/mksysroot.sh [DIR]     (default: $ELFUSE_SYSROOT or
#                                   /var/cache/elfuse-sysroot/bookworm)
#
# The mirror is the one apt is configured with (first deb.debian.org-style
# URI of suite bookworm in /etc/apt/sources.list*), so the build works where
# apt works. Needs root (debootstrap chroots and mknods).
set -euo pipefail

dir="${1:-${ELFUSE_SYSROOT:-/var/cache/elfuse-sysroot/bookworm}}"
stamp="$dir/.elfuse-sysroot-ok"
include="make,gcc,libc6-dev,python3-minimal"

if [ -f "$stamp" ]; then
	echo "$dir"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "mksysroot: $dir is missing; run as root to build it" >&2
	exit 1
fi
if ! command -v debootstrap >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2
fi

mirror=""
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
	[ -f "$f" ] || continue
	# one-line format: deb URI bookworm ...
	m=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' "$f")
	if [ -z "$m" ]; then
		# deb822 format: URIs: ... followed by Suites: bookworm ...
		m=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u !~ /security/ {print u; exit}' "$f")
	fi
	if [ -n "$m" ]; then
		mirror="$m"
		break
	fi
done
mirror="${mirror:-http://deb.debian.org/debian}"

# Build next to the target and rename at the end, so an interrupted run
# never leaves a half root that looks finished.
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"
trap 'rm -rf "$tmp"' EXIT
echo "mksysroot: debootstrap bookworm from $mirror into $dir" >&2
debootstrap --variant=minbase --include="$include" bookworm "$tmp" "$mirror" >&2
# Trim the apt cache: the .debs are not needed by the guest.
rm -rf "$tmp"/var/cache/apt/archives/*.deb
touch "$tmp/.elfuse-sysroot-ok"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
