#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the build and the test host need, from Debian's
# registry only (bookworm + bookworm-backports).  Idempotent: a second run
# with everything present does no network I/O beyond "apt-get update" when
# something is missing.
#
# Kernel packages (images and headers alike) are never installed: the
# machine must boot what it booted before.  They are downloaded and
# extracted (dpkg-deb -x) into a machine-wide cache, $PERSONA_CACHE
# (default /var/cache/kvm-persona), keyed by package version, so that every
# clone reuses them.  Only build tools, QEMU, libvirt and source tarballs are
# installed.
#
# Outputs:
#   $PERSONA_CACHE/headers/<kver>_<debver>/  - extracted headers (KDIR)
#   $CACHE/kernel/<ver>/vmlinuz, modules/      - test-host kernel images
#   $CACHE/linux-source-6.1/                   - upstream tree for selftests
#   $CACHE/env.sh                              - KVER/KDIR/... for make
# ($CACHE defaults to .cache/ in the tree.)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
PERSONA_CACHE=${PERSONA_CACHE:-/var/cache/kvm-persona}
mkdir -p "$CACHE" "$PERSONA_CACHE"

log() { echo "deps: $*" >&2; }

# shellcheck source=scripts/lib-apt.sh
. "$ROOT/scripts/lib-apt.sh"

# bookworm-backports, with the URIs and keyring of the existing Debian source.
enable_backports()
{
	local f=/etc/apt/sources.list.d/kvm-persona-backports.sources
	[ -e "$f" ] && return 0
	if ! apt_system_source; then
		log "cannot find the system's Debian bookworm source"
		exit 1
	fi
	{
		echo "Types: deb"
		echo "URIs: $APT_URIS"
		echo "Suites: bookworm-backports"
		echo "Components: main"
		[ -z "$APT_SIGNED" ] || echo "Signed-By: $APT_SIGNED"
	} >"$f"
	log "enabled bookworm-backports from $APT_URIS"
	APT_UPDATED=
}

APT_UPDATED=
apt_update()
{
	[ -n "$APT_UPDATED" ] && return 0
	apt-get update -qq
	APT_UPDATED=1
}

apt_install()
{
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "${p%%/*}" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	apt_update
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

need_cmd_ver()
{
	# qemu-system-x86 from backports must be >= 10
	local v
	v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
	case "$v" in
	1:1[0-9].*) return 0 ;;
	esac
	return 1
}

enable_backports
if ! apt-cache policy qemu-system-x86 2>/dev/null | grep -q bookworm-backports; then
	apt_update
fi

# dkms (scripts/dkms-check.sh) Recommends linux-headers-amd64, a kernel
# package: apt_install never installs recommendations.
apt_install busybox-static cpio kmod gzip xz-utils rsync bc flex bison \
	libelf-dev libssl-dev pkg-config sparse zstd e2fsprogs dwarves \
	dkms openssl

if ! need_cmd_ver; then
	apt_update
	log "installing QEMU from bookworm-backports"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends -t bookworm-backports \
		qemu-system-x86 qemu-utils >/dev/null
fi

# libvirt for scripts/libvirt-check.sh: Debian 12's own (9.0), daemon and
# virsh, run by hand in the test host with the machine's QEMU 10.  Not
# libvirt-daemon-system: no services, users or groups on this machine.  The
# test host mounts writable copies over these directories, which must
# therefore exist (libvirt-daemon-system would create them).
apt_install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt

# Download packages into a fresh directory; prints it.
apt_download()
{
	local tmp
	tmp=$(mktemp -d)
	# apt's sandbox user must be able to write there.
	chmod 755 "$tmp"
	(cd "$tmp" && apt-get download -qq "$@" 2>/dev/null) || {
		rm -rf "$tmp"
		return 1
	}
	echo "$tmp"
}

# The headers of kernel $1 (e.g. 6.1.0-57-amd64), with the -common and
# linux-kbuild packages they depend on, extracted into one root under the
# machine-wide cache.  Prints the build directory (KDIR).  The headers'
# Makefile includes the -common tree by its absolute /usr/src path; the
# copy is pointed at the extracted one instead.
extract_headers()
{
	local kver=$1 pkg=linux-headers-$1 ver dir tmp deps mk
	ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	[ -n "$ver" ] || { apt_update; ver=$(apt-cache show --no-all-versions \
		"$pkg" | sed -n 's/^Version: //p' | head -n1); }
	[ -n "$ver" ] || { log "no package $pkg"; return 1; }
	dir=$PERSONA_CACHE/headers/${kver}_$ver
	if [ ! -e "$dir/.complete" ]; then
		deps=$(apt-cache depends "$pkg" |
			sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p')
		# shellcheck disable=SC2086 # one package name per word
		tmp=$(apt_download "$pkg" $deps) || {
			apt_update
			tmp=$(apt_download "$pkg" $deps)
		}
		rm -rf "$dir.new"
		mkdir -p "$dir.new"
		for deb in "$tmp"/*.deb; do
			dpkg-deb -x "$deb" "$dir.new"
		done
		rm -rf "$tmp"
		mk=$dir.new/usr/src/$pkg/Makefile
		[ -e "$mk" ] || { log "$pkg: no Makefile in the package"; return 1; }
		sed -i "s|^include /usr/|include $dir/usr/|" "$mk"
		rm -rf "$dir"
		mv "$dir.new" "$dir"
		touch "$dir/.complete"
		log "extracted $pkg $ver into $dir"
	fi
	echo "$dir/usr/src/$pkg"
}

# The stock 6.1 ABI that linux-image-amd64 points at now.
resolve_kver()
{
	local dep
	dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-image-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' |
		head -n1)
	if [ -z "$dep" ]; then
		apt_update
		dep=$(apt-cache depends linux-image-amd64 |
			sed -n 's/.*Depends: linux-image-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' |
			head -n1)
	fi
	echo "$dep"
}

KVER=${KVER:-}
if [ -z "$KVER" ] && [ -e "$CACHE/env.sh" ]; then
	# shellcheck disable=SC1091
	. "$CACHE/env.sh"
	[ -e "${KDIR:-/nonexistent}/Makefile" ] || KVER=
fi
[ -n "$KVER" ] || KVER=$(resolve_kver)
[ -n "$KVER" ] || { log "cannot resolve the 6.1 kernel ABI"; exit 1; }

# 6.1 for the stock test host's selftests and the debug kernel, 6.12 for
# the 6.12 test host kernel (scripts/kernel-build.sh).
apt_install linux-source-6.1 linux-source-6.12
KDIR=$(extract_headers "$KVER")

# The test-host kernel: extracted, never installed on the build machine.
KDIR_IMG=$CACHE/kernel/$KVER
if [ ! -e "$KDIR_IMG/vmlinuz" ]; then
	apt_update
	tmp=$(apt_download "linux-image-$KVER-unsigned") ||
		tmp=$(apt_download "linux-image-$KVER")
	mkdir -p "$KDIR_IMG/x"
	dpkg-deb -x "$tmp"/linux-image-*.deb "$KDIR_IMG/x"
	cp "$KDIR_IMG/x/boot/vmlinuz-$KVER" "$KDIR_IMG/vmlinuz"
	mv "$KDIR_IMG/x/lib/modules/$KVER" "$KDIR_IMG/modules"
	cp "$KDIR_IMG/x/boot/config-$KVER" "$KDIR_IMG/config"
	rm -rf "$KDIR_IMG/x" "$tmp"
	log "extracted test-host kernel $KVER"
fi

# linux-source-6.1 tree for the KVM selftest library (built, never copied).
SRC=$CACHE/linux-source-6.1
if [ ! -e "$SRC/.extracted" ]; then
	rm -rf "$SRC"
	mkdir -p "$SRC"
	tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-6.1.tar.*' |
		LC_ALL=C sort | head -n1)
	tar -C "$SRC" --strip-components=1 -xf "$tarball"
	touch "$SRC/.extracted"
	log "extracted $(basename "$tarball")"
fi

# The anchor: Debian's newest 6.12 kernel (upstream in-kernel Xen), for
# side-by-side runs (make bench) and the refuse-to-load check.  Only with
# --anchor, or when it is already there.
ANCHOR_KVER=${ANCHOR_KVER:-}
[ -n "$ANCHOR_KVER" ] || ANCHOR_KVER=$(sed -n 's/^ANCHOR_KVER=//p' \
	"$CACHE/env.sh" 2>/dev/null || true)
if [ "${1:-}" = --anchor ] && [ -z "$ANCHOR_KVER" ]; then
	apt_update
	ANCHOR_KVER=$(apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
		sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\)-unsigned .*/\1/p' |
		sort -V | tail -n1)
	[ -n "$ANCHOR_KVER" ] || { log "no 6.12 kernel in the archive"; exit 1; }
fi
ANCHOR_DIR=
ANCHOR_KDIR=
if [ -n "$ANCHOR_KVER" ]; then
	ANCHOR_DIR=$CACHE/kernel/$ANCHOR_KVER
	ANCHOR_KDIR=$(extract_headers "$ANCHOR_KVER")
	if [ ! -e "$ANCHOR_DIR/vmlinuz" ]; then
		apt_update
		tmp=$(apt_download "linux-image-$ANCHOR_KVER-unsigned")
		mkdir -p "$ANCHOR_DIR/x"
		dpkg-deb -x "$tmp"/linux-image-*.deb "$ANCHOR_DIR/x"
		cp "$ANCHOR_DIR/x/boot/vmlinuz-$ANCHOR_KVER" "$ANCHOR_DIR/vmlinuz"
		cp "$ANCHOR_DIR/x/boot/config-$ANCHOR_KVER" "$ANCHOR_DIR/config"
		mv "$ANCHOR_DIR/x/lib/modules/$ANCHOR_KVER" "$ANCHOR_DIR/modules"
		rm -rf "$ANCHOR_DIR/x" "$tmp"
		log "extracted anchor kernel $ANCHOR_KVER"
	fi
fi

cat >"$CACHE/env.sh" <<EOT
KVER=$KVER
KDIR=$KDIR
TEST_KERNEL=$KDIR_IMG
LINUX_SRC=$SRC
ANCHOR_KVER=$ANCHOR_KVER
ANCHOR_KDIR=$ANCHOR_KDIR
ANCHOR_KERNEL=$ANCHOR_DIR
EOT
log "ready: kernel $KVER${ANCHOR_KVER:+, anchor $ANCHOR_KVER}"
