#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a test host kernel from Debian's kernel source package, configured
# from "make allnoconfig" plus scripts/kernels/base.config (only what the
# test host needs) and the profile's own fragment, built out of tree:
#
#   debug   linux-source-6.1 with KASAN, kmemleak, lockdep, UBSAN,
#           DEBUG_LIST, page poisoning and debug objects
#           (scripts/kernels/debug.config; scripts/debug-kernel.sh)
#   612     linux-source-6.12 with the anchor's KVM configuration but
#           CONFIG_KVM_XEN off, as RHEL 10 and SUSE build it
#           (scripts/kernels/612.config)
#
# The result is cached machine-wide, keyed by the source package's version
# and a hash of the fragments and this script, so later runs and other
# clones reuse it:
#
#   $PERSONA_CACHE/kernels/<profile>/<version>-<hash>/
#     vmlinuz     the kernel (bzImage)
#     config      its .config (testhost.sh looks for CONFIG_PVH there)
#     modules/    its lib/modules/<release> tree (modules_install)
#     build/      the O= tree, object files pruned: KDIR for
#                 "make -C build M=... modules"
#     build.log   the build's output; info: version, hash, build time
#   $PERSONA_CACHE/kernels/linux-source-<version>/
#     the extracted source that build/ refers to (never written to)
#
# PERSONA_CACHE defaults to /var/cache/kvm-persona.  The directory appears
# atomically (built under a temporary name, then renamed), and a lock
# makes concurrent invocations wait for one build.  With the cache in
# place the script returns at once.
#
# Usage: scripts/kernel-build.sh debug|612
#
# Writes <P>_KERNEL=<dir> and <P>_KDIR=<dir>/build to .cache/<p>-env.sh
# (debug: DEBUG_* in debug-env.sh, read by "make module-debug"; 612:
# K612_* in k612-env.sh, read by "make module-612") and prints them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
PERSONA_CACHE=${PERSONA_CACHE:-/var/cache/kvm-persona}
SELF=$ROOT/scripts/kernel-build.sh
PROFILE=${1:-}

case $PROFILE in
debug) SERIES=6.1; ENVNAME=debug; VAR=DEBUG ;;
612) SERIES=6.12; ENVNAME=k612; VAR=K612 ;;
*) echo "usage: $0 debug|612" >&2; exit 2 ;;
esac
FRAGMENTS=("$ROOT/scripts/kernels/base.config"
	   "$ROOT/scripts/kernels/$PROFILE.config")
KERNELS=$PERSONA_CACHE/kernels
BASE=$KERNELS/$PROFILE

log() { echo "kernel-build($PROFILE): $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- the key

TARBALL=
for f in /usr/src/linux-source-"$SERIES".tar.*; do
	[ -e "$f" ] && TARBALL=$f && break
done
[ -n "$TARBALL" ] || die "no /usr/src/linux-source-$SERIES.tar.*: run scripts/deps.sh"
SRCVER=$(dpkg-query -W -f='${Version}' "linux-source-$SERIES" 2>/dev/null) ||
	die "linux-source-$SERIES is not installed: run scripts/deps.sh"
HASH=$(cat "${FRAGMENTS[@]}" "$SELF" | sha256sum | cut -c1-12)
KEY=$SRCVER-$HASH
DIR=$BASE/$KEY
SRC=$KERNELS/linux-source-$SRCVER

write_env()
{
	mkdir -p "$CACHE"
	printf '%s_KERNEL=%s\n%s_KDIR=%s\n' "$VAR" "$DIR" "$VAR" "$DIR/build" \
		>"$CACHE/$ENVNAME-env.sh.$$"
	mv "$CACHE/$ENVNAME-env.sh.$$" "$CACHE/$ENVNAME-env.sh"
	cat "$CACHE/$ENVNAME-env.sh"
}

if [ -e "$DIR/.complete" ]; then
	write_env
	exit 0
fi

mkdir -p "$BASE"
# One build at a time: the others wait here, then find the result.
exec 9>"$BASE/.lock"
if ! flock -n 9; then
	log "another build is running; waiting for it"
	flock 9
fi
if [ -e "$DIR/.complete" ]; then
	write_env
	exit 0
fi

# What a build that was killed left behind (no build runs but ours).
find "$BASE" -mindepth 1 -maxdepth 1 -name '.*.tmp*' -exec rm -rf {} +

# ---------------------------------------------------------------- source

if [ ! -e "$SRC/.extracted" ]; then
	log "extracting $(basename "$TARBALL") ($SRCVER)"
	rm -rf "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -C "$SRC.tmp" --strip-components=1 -xf "$TARBALL"
	touch "$SRC.tmp/.extracted"
	rm -rf "$SRC"
	mv "$SRC.tmp" "$SRC"
fi

# ---------------------------------------------------------------- config

TMP=$(mktemp -d "$BASE/.$KEY.tmpXXXXXX")
trap 'rm -rf "$TMP"' EXIT
B=$TMP/build
mkdir -p "$B"
JOBS=$(nproc)
kmake() { make -C "$SRC" O="$B" "$@"; }

log "configuring in $TMP"
kmake -s allnoconfig >/dev/null
# merge_config.sh leaves its temporary files in the current directory.
(cd "$B" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$B" \
	"$B/.config" "${FRAGMENTS[@]}") >"$TMP/merge.log"
kmake -s olddefconfig >/dev/null

# Every line of the fragments must hold: "CONFIG_X=v" literally, and
# "# CONFIG_X is not set" as anything but =y or =m.
verify_config()
{
	local line sym bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$B/.config" && continue
			sym=${line%%=*}
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			grep -q "^$sym=" "$B/.config" || continue
			;;
		*) continue ;;
		esac
		log "config: wanted '$line', got '$(grep -E "^(# )?${sym}[= ]" \
			"$B/.config" || echo "$sym absent")'"
		bad=1
	done < <(cat "${FRAGMENTS[@]}")
	return $bad
}
verify_config || die "the final .config lacks what the fragments ask for (missing dependencies?)"
log "config verified: every option of base.config and $PROFILE.config is set as asked"

# ---------------------------------------------------------------- build

log "building $KEY with $JOBS jobs (log: $TMP/build.log)"
T0=$(date +%s)
if ! kmake -j"$JOBS" >"$TMP/build.log" 2>&1; then
	tail -n 40 "$TMP/build.log" >&2
	die "build failed"
fi
T1=$(date +%s)
KREL=$(cat "$B/include/config/kernel.release")
log "built $KREL in $((T1 - T0)) s"

kmake -s INSTALL_MOD_PATH="$TMP/install" modules_install >>"$TMP/build.log" 2>&1 ||
	die "modules_install failed"
mv "$TMP/install/lib/modules/$KREL" "$TMP/modules"
rm -rf "$TMP/install"
# Links into the build tree, by temporary name: KDIR is build/ below.
rm -f "$TMP/modules/build" "$TMP/modules/source"
cp "$B/arch/x86/boot/bzImage" "$TMP/vmlinuz"
cp "$B/.config" "$TMP/config"
cp "$B/System.map" "$TMP/System.map"

# An external module build needs the configuration, the generated headers,
# Module.symvers and the host tools (scripts/, objtool), not the objects.
find "$B" \( -path "$B/scripts" -o -path "$B/tools" \) -prune -o \
	\( -name '*.o' -o -name '*.ko' -o -name '*.a' -o -name '.tmp_*' \) \
	-type f -print0 | xargs -0r rm -f
rm -f "$B/vmlinux" "$B/vmlinux.o" "$B/arch/x86/boot/compressed/vmlinux" \
	"$B/arch/x86/boot/compressed/vmlinux.bin"*

{
	echo "profile=$PROFILE"
	echo "source=$SRCVER"
	echo "hash=$HASH"
	echo "release=$KREL"
	echo "build_seconds=$((T1 - T0))"
	echo "jobs=$JOBS"
	echo "built=$(date -u +%FT%TZ)"
} >"$TMP/info"
touch "$TMP/.complete"
chmod 755 "$TMP"
rm -rf "$DIR"
mv -T "$TMP" "$DIR"
trap - EXIT
log "cached in $DIR ($(du -sh "$DIR" | cut -f1))"
write_env
