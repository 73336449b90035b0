#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test host's own QEMU ("L0"): Debian's qemu source package of
# the installed qemu-system-x86 version, with this tree's fixes to QEMU's
# TCG emulation of AMD SVM (scripts/qemu-l0/*.patch; see "Nested SVM under
# TCG" in Documentation/testing.rst), configured for what
# scripts/testhost.sh uses and nothing more: x86_64-softmmu, TCG, virtfs,
# a stdio chardev, no GUI, audio, USB or network back ends.
#
# The binary is cached machine-wide, keyed by the Debian version and a
# hash of the patches and this script:
#   $PERSONA_CACHE/qemu-l0/<debian version>-<hash>/qemu-system-x86_64
#   (PERSONA_CACHE defaults to /var/cache/kvm-persona)
# next to BUILD-INFO (what was built, how, in how many seconds).  It
# finds its firmware (SeaBIOS, the kvmvapic, linuxboot_dma and pvh option
# ROMs) in the directories Debian's QEMU packages install, which
# scripts/deps.sh installed with QEMU.  A second run finds the cache and
# returns at once.  Builds are serialized with a lock and renamed into
# place when complete, so a killed build leaves nothing half-made behind.
#
# The source comes through a private apt configuration (a deb-src entry
# with the URIs and Signed-By of the system's Debian source, its own
# lists directory): the system's apt sources are not changed.  When the
# archive serves only the upstream tarball (*.orig.tar.xz) and not the
# .dsc with Debian's own patches, the upstream tarball is built and
# BUILD-INFO says so.
#
# Writes QEMU_L0=<binary> to $CACHE/qemu-l0-env.sh (CACHE defaults to
# .cache/ in the tree), which scripts/testhost.sh reads, and prints the
# binary's path on stdout; progress goes to stderr.
#
# Usage: scripts/qemu-l0.sh [--print]
#   --print   only print the cached binary (exit 1 if there is none)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
PERSONA_CACHE=${PERSONA_CACHE:-/var/cache/kvm-persona}
PATCHES=$ROOT/scripts/qemu-l0

log() { echo "qemu-l0: $*" >&2; }
die() { log "error: $*"; exit 1; }

PRINT=
case ${1:-} in
--print) PRINT=1 ;;
'') ;;
*) sed -n '/^# Usage:/,/^#   --print/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

# What is installed is what the test host runs today, and what gets fixed.
installed_version()
{
	dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true
}
VERSION=$(installed_version)
if [ -z "$VERSION" ] && [ -z "$PRINT" ]; then
	"$ROOT/scripts/deps.sh" >&2
	VERSION=$(installed_version)
fi
[ -n "$VERSION" ] || die "qemu-system-x86 is not installed (scripts/deps.sh)"

# The key: the patches and this script, in a stable order.
KEY=$(cat "$0" "$PATCHES"/*.patch | sha256sum | cut -c1-12)
# No epoch in a directory name.
DIR=$PERSONA_CACHE/qemu-l0/${VERSION#*:}-$KEY
BIN=$DIR/qemu-system-x86_64

publish()
{
	mkdir -p "$CACHE"
	printf 'QEMU_L0=%s\n' "$BIN" >"$CACHE/qemu-l0-env.sh.$$"
	mv "$CACHE/qemu-l0-env.sh.$$" "$CACHE/qemu-l0-env.sh"
	echo "$BIN"
}

if [ -x "$BIN" ] && [ -e "$DIR/.complete" ]; then
	publish
	exit 0
fi
[ -z "$PRINT" ] || exit 1

mkdir -p "$PERSONA_CACHE/qemu-l0"
exec 9>"$PERSONA_CACHE/qemu-l0/.lock"
if ! flock -n 9; then
	log "another build holds $PERSONA_CACHE/qemu-l0/.lock; waiting"
	flock 9
fi
# Someone else may have built it while we waited.
if [ -x "$BIN" ] && [ -e "$DIR/.complete" ]; then
	publish
	exit 0
fi

T0=$(date +%s)

# ---------------------------------------------------------------- tools

apt_updated=
apt_install()
{
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "${p%%/*}" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

# QEMU 10's configure wants meson >= 1.5 and pycotap >= 1.1 in the
# Python it runs (Debian's, not whatever python3 is first in PATH):
# bookworm has meson 1.0 and no pycotap, bookworm-backports has both.
# Debian's "+ds" tarball has no bundled wheels, and configure runs with
# --disable-download, so they must be the system's.
PYTHON=/usr/bin/python3
python_deps_ok()
{
	local v
	v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge 1.5 &&
		dpkg-query -W -f='${Status}' python3-pycotap 2>/dev/null |
		grep -q 'install ok installed'
}
if ! python_deps_ok; then
	[ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
	log "installing meson and python3-pycotap from bookworm-backports"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends -t bookworm-backports meson python3-pycotap \
		>/dev/null
	python_deps_ok || die "no meson >= 1.5 or pycotap in the archive"
fi
apt_install gcc libc6-dev make pkg-config ninja-build python3-venv xz-utils \
	libglib2.0-dev zlib1g-dev libpixman-1-dev libcap-ng-dev libattr1-dev \
	dpkg-dev

# ---------------------------------------------------------------- source

WORK=$(mktemp -d "$PERSONA_CACHE/qemu-l0/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# apt's sandbox user downloads into these.
chmod 755 "$WORK"

# A deb-src stanza for bookworm-backports with the URIs and Signed-By of
# the system's Debian source, in an apt configuration of our own.
# shellcheck source=scripts/lib-apt.sh
. "$ROOT/scripts/lib-apt.sh"
apt_system_source || die "cannot find the system's Debian bookworm source"
mkdir -p "$WORK/src"
chmod 755 "$WORK/src"
apt_private "$WORK/apt"
{
	echo "Types: deb-src"
	echo "URIs: $APT_URIS"
	echo "Suites: bookworm-backports"
	echo "Components: main"
	[ -z "$APT_SIGNED" ] || echo "Signed-By: $APT_SIGNED"
} >"$WORK/apt/parts/qemu-l0.sources"
apt-get "${APT_OPTS[@]}" update -qq >&2 || die "apt-get update (deb-src) failed"

DEBIAN_PATCHES=
cd "$WORK/src"
log "fetching the source of qemu $VERSION"
if apt-get "${APT_OPTS[@]}" source --download-only -qq "qemu=$VERSION" \
	>"$WORK/source.log" 2>&1; then
	# dpkg-source applies Debian's own patches (debian/patches).
	dpkg-source -x ./*.dsc qemu >&2
	DEBIAN_PATCHES="applied by dpkg-source -x"
else
	# The archive may serve the upstream tarball but not the .dsc and
	# Debian's patch tarball; build upstream's source then.
	sed 's/^/  /' "$WORK/source.log" >&2
	rm -f ./*.dsc ./*.debian.tar.*
	if ! ls ./*.orig.tar.* >/dev/null 2>&1; then
		apt-get "${APT_OPTS[@]}" source --tar-only --download-only -qq \
			"qemu=$VERSION" >&2 || die "cannot fetch the qemu source"
	fi
	log "the archive did not serve the .dsc: building the upstream tarball"
	mkdir qemu
	tar -C qemu --strip-components=1 -xf ./*.orig.tar.*
	DEBIAN_PATCHES="not available from the archive (only $(ls ./*.orig.tar.*))"
fi

cd qemu
for p in "$PATCHES"/*.patch; do
	log "applying $(basename "$p")"
	patch -p1 -s <"$p" || die "$(basename "$p") does not apply"
done

# ---------------------------------------------------------------- build

# Only what testhost.sh's command line needs.  The firmware path is where
# Debian's qemu-system-data, seabios and ipxe-qemu install their files.
CONFIGURE=(
	"--python=$PYTHON"
	--target-list=x86_64-softmmu
	--without-default-features
	--disable-download
	--disable-docs
	--disable-user
	--disable-werror
	--disable-install-blobs
	--enable-tcg
	--enable-virtfs --enable-attr --enable-cap-ng
	--enable-pixman
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
mkdir build
cd build
log "configuring: ${CONFIGURE[*]}"
../configure "${CONFIGURE[@]}" >"$WORK/configure.log" 2>&1 || {
	tail -n 40 "$WORK/configure.log" >&2
	die "configure failed"
}
T1=$(date +%s)
log "building with $(nproc) jobs"
ninja -j "$(nproc)" qemu-system-x86_64 >"$WORK/build.log" 2>&1 || {
	tail -n 40 "$WORK/build.log" >&2
	die "build failed"
}
T2=$(date +%s)
./qemu-system-x86_64 --version >&2

# ---------------------------------------------------------------- cache

NEW=$WORK/out
mkdir "$NEW"
cp qemu-system-x86_64 "$NEW/"
strip "$NEW/qemu-system-x86_64"
{
	echo "qemu-system-x86_64 for the test host (scripts/qemu-l0.sh)"
	echo "debian version: $VERSION"
	echo "debian patches: $DEBIAN_PATCHES"
	echo "own patches:"
	for p in "$PATCHES"/*.patch; do
		echo "  $(basename "$p") $(sha256sum <"$p" | cut -c1-12)"
	done
	echo "configure: ${CONFIGURE[*]}"
	echo "meson: $(meson --version), gcc: $(gcc -dumpfullversion)"
	echo "built: $(date -u +%FT%TZ) on $(nproc) cores"
	echo "seconds: fetch+configure $((T1 - T0)), ninja $((T2 - T1)), total $((T2 - T0))"
} >"$NEW/BUILD-INFO"
touch "$NEW/.complete"
rm -rf "$DIR"
mv "$NEW" "$DIR"
log "built in $((T2 - T0)) s (ninja $((T2 - T1)) s): $BIN"
publish
