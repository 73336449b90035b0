#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch what the 32-bit guest is made of, from Debian's i386 archive:
# the 686-pae kernel that linux-image-686-pae points at, and the i386
# busybox-static.  Nothing is installed: the packages are extracted
# (dpkg-deb -x) into the machine-wide cache, keyed by package version,
#   $PERSONA_CACHE/i386/linux-image-<kver>_<version>/vmlinuz, config, modules/
#   $PERSONA_CACHE/i386/busybox-static_<version>/busybox
# and $CACHE/i386-env.sh says where (I386_KVER, I386_KERNEL, I386_BUSYBOX).
# scripts/guest-image.sh --kernel-dir/--busybox then makes the 32-bit
# guest image from them (make check does; Documentation/testing.rst).
#
# The packages come through an apt configuration of its own
# ($PERSONA_CACHE/i386/apt: the machine's Debian entries, backports left
# out, for architecture i386; scripts/lib-apt.sh), so the machine's apt
# sources, lists and architectures stay as they are.  A second run with
# i386-env.sh in place and its directories complete does no network I/O.
#
# Usage: scripts/i386-deps.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
PERSONA_CACHE=${PERSONA_CACHE:-/var/cache/kvm-persona}
BASE=$PERSONA_CACHE/i386
ENV=$CACHE/i386-env.sh

log() { echo "i386-deps: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 0 ] || { sed -n 's/^# Usage: /Usage: /p' "$0" >&2; exit 2; }

# What an earlier run found, if it is all still there.
if [ -e "$ENV" ]; then
	# shellcheck disable=SC1090
	. "$ENV"
	if [ -e "${I386_KERNEL:-/nonexistent}/.complete" ] &&
	   [ -e "$(dirname "${I386_BUSYBOX:-/nonexistent/x}")/.complete" ]; then
		exit 0
	fi
fi

mkdir -p "$BASE" "$CACHE"
exec 9>"$BASE/.lock"
flock 9

# shellcheck source=scripts/lib-apt.sh
. "$ROOT/scripts/lib-apt.sh"
apt_private "$BASE/apt"
apt_system_stanzas deb i386 >"$BASE/apt/parts/i386.sources"
[ -s "$BASE/apt/parts/i386.sources" ] ||
	die "cannot find the system's Debian entries in its apt sources"
APT_OPTS+=(-oAPT::Architecture=i386 -oAPT::Architectures=i386)

# An index the mirror serves inconsistently (seen: bookworm-security's
# i386 Packages, "File has unexpected size") is left out by apt, which
# then says so and exits 100; what the other indexes hold is still
# usable, and the versions picked are in the cache keys and the log.
if ! apt-get "${APT_OPTS[@]}" update -qq >"$BASE/update.log" 2>&1; then
	log "apt-get update reported failures; going on with the indexes it got:"
	grep '^E: Failed to fetch' "$BASE/update.log" | sed 's/^/  /' >&2 || true
fi

# Candidate version of package $1 ("" if none).
candidate()
{
	apt-cache "${APT_OPTS[@]}" policy "$1" 2>/dev/null |
		sed -n 's/^  Candidate: //p' | grep -v '(none)' || true
}

# Download package $1 at version $2 and extract it into directory $3.
fetch()
{
	local pkg=$1 ver=$2 dir=$3 tmp
	tmp=$(mktemp -d "$BASE/.dl.XXXXXX")
	chmod 755 "$tmp"
	(cd "$tmp" && apt-get "${APT_OPTS[@]}" download -qq "$pkg=$ver" >&2) ||
		{ rm -rf "$tmp"; die "cannot download $pkg $ver"; }
	rm -rf "$dir.new"
	mkdir -p "$dir.new/x"
	dpkg-deb -x "$tmp"/*.deb "$dir.new/x"
	rm -rf "$tmp"
}

KVER=$(apt-cache "${APT_OPTS[@]}" depends linux-image-686-pae 2>/dev/null |
	sed -n 's/.*Depends: linux-image-\(6\.1\.0-[0-9]*-686-pae\)$/\1/p' |
	head -n1)
[ -n "$KVER" ] || die "linux-image-686-pae names no 6.1 kernel in the i386 archive"
KPKG=linux-image-$KVER
KV=$(candidate "$KPKG")
[ -n "$KV" ] || die "no $KPKG in the i386 archive"
KDIR=$BASE/${KPKG}_$KV
if [ ! -e "$KDIR/.complete" ]; then
	log "fetching $KPKG $KV"
	fetch "$KPKG" "$KV" "$KDIR"
	cp "$KDIR.new/x/boot/vmlinuz-$KVER" "$KDIR.new/vmlinuz"
	cp "$KDIR.new/x/boot/config-$KVER" "$KDIR.new/config"
	mv "$KDIR.new/x/lib/modules/$KVER" "$KDIR.new/modules"
	rm -rf "$KDIR.new/x" "$KDIR"
	mv "$KDIR.new" "$KDIR"
	touch "$KDIR/.complete"
fi

BV=$(candidate busybox-static)
[ -n "$BV" ] || die "no busybox-static in the i386 archive"
BDIR=$BASE/busybox-static_${BV#*:}
if [ ! -e "$BDIR/.complete" ]; then
	log "fetching busybox-static $BV"
	fetch busybox-static "$BV" "$BDIR"
	cp "$BDIR.new/x/bin/busybox" "$BDIR.new/busybox"
	rm -rf "$BDIR.new/x" "$BDIR"
	mv "$BDIR.new" "$BDIR"
	touch "$BDIR/.complete"
fi

cat >"$ENV.$$" <<EOT
I386_KVER=$KVER
I386_KERNEL=$KDIR
I386_BUSYBOX=$BDIR/busybox
EOT
mv "$ENV.$$" "$ENV"
log "ready: $KPKG $KV, busybox-static $BV (i386)"
