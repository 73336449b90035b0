#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS as README.md tells an operator to use it, with Debian's own dkms,
# inside the test host (it mounts over /usr and /var/lib/dkms, so it
# refuses to run anywhere else):
#
#   scripts/testhost.sh --timeout 900 -- scripts/dkms-check.sh
#
# The test host's root is the build machine's, read-only, without
# /lib/modules; in a mount namespace of its own this script makes it look
# like a Debian host with the test kernel installed: an overlay on /usr
# (so /lib/modules and /usr/src are writable), /lib/modules/$(uname -r)
# holding the test kernel's modules (depmod'ed) and a "build" link to its
# extracted headers (KDIR of .cache/env.sh), and an empty /var/lib/dkms.
# Then, as an operator would: "make dkms-src", "dkms add", "dkms build",
# "dkms install" (dkms signs with its own MOK key, which it creates),
# "modprobe kvm-persona", and back: "rmmod", "dkms remove".  It asserts
# that the module dkms installed is this tree's (modinfo version = the
# VERSION file, vermagic = the running kernel, signed with dkms's key),
# that modprobe finds and loads that very file (srcversion), that it
# works (KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM) on /dev/kvm is 0 before and
# after, non-zero while loaded), and that dkms remove takes it out of the
# kernel's module tree again.  Prints KTAP ("ok N dkms.build") and
# "N passed, N failed"; the times of the dkms steps as "# " lines.
#
# Usage: scripts/dkms-check.sh [--name NAME] [--start N] [--no-plan]
#                               [--kdir DIR]
#   --kdir DIR  the running kernel's build tree (default: KDIR of
#               .cache/env.sh, Debian's 6.1 headers); make check passes
#               the 6.12 kernel's on the 6.12 test host.  A kernel built
#               without CONFIG_MODULE_SIG gets an unsigned module.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
NAME=dkms
KDIR_ARG=
START=1
PLAN=1
ARGS=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--name) NAME=$2; shift 2 ;;
	--start) START=$2; shift 2 ;;
	--no-plan) PLAN=; shift ;;
	--kdir) KDIR_ARG=$2; shift 2 ;;
	*) echo "usage: $0 [--name NAME] [--start N] [--no-plan] [--kdir DIR]" >&2
	   exit 2 ;;
	esac
done

if [ "${TESTHOST:-}" != 1 ] || [ -z "${TESTHOST_KERNEL_DIR:-}" ]; then
	echo "$0: runs inside the test host only (scripts/testhost.sh -- $0)" >&2
	exit 2
fi
# Every mount below is private to this run, and goes with it.
if [ -z "${DKMS_CHECK_NS:-}" ]; then
	DKMS_CHECK_NS=1 exec unshare --mount --propagation private \
		"$0" "${ARGS[@]}"
fi

# shellcheck source=scripts/lib-ktap.sh
. "$ROOT/scripts/lib-ktap.sh"

KDIR=
# shellcheck disable=SC1091
[ ! -e .cache/env.sh ] || . .cache/env.sh
KDIR=${KDIR_ARG:-$KDIR}
MOD=kvm-persona
MODNAME=kvm_persona
KVER=$(uname -r)
MODS=$TESTHOST_KERNEL_DIR/modules
VERSION=$(tr -d ' \n' <VERSION)
W=$(mktemp -d "${TMPDIR:-/tmp}/dkms-check.XXXXXX")
LOADED=
cleanup()
{
	[ -z "$LOADED" ] || rmmod "$MODNAME" 2>/dev/null || true
	# Also after an early exit: the caller counts from this line.
	ktap_summary
}
trap cleanup EXIT

ktap_plan 14
note "kvm-persona $VERSION, kernel $KVER, $(dkms --version 2>&1)"

# KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM) on /dev/kvm.
xen_caps()
{
	/usr/bin/python3 -c 'import fcntl, os
print(fcntl.ioctl(os.open("/dev/kvm", os.O_RDWR), 0xAE03, 38))'
}

# A Debian host with the test kernel installed, and dkms.
setup()
{
	local k
	[ -n "$KDIR" ] || { echo "no KDIR: run scripts/deps.sh"; return 1; }
	[ -e "$KDIR/Makefile" ] || { echo "no headers at $KDIR"; return 1; }
	command -v dkms >/dev/null || { echo "no dkms: run scripts/deps.sh"; return 1; }
	grep -q "^$MODNAME " /proc/modules && { echo "$MODNAME is loaded already"; return 1; }
	# What udev makes on a real host (dkms's "<(...)" needs it), into
	# the test host's devtmpfs.
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd || return 1
	grep -qw overlay /proc/filesystems ||
		insmod "$MODS/kernel/fs/overlayfs/overlay.ko" || return 1
	mkdir -p "$W/usr.upper" "$W/usr.work" || return 1
	mount -t overlay overlay -o \
		"lowerdir=/usr,upperdir=$W/usr.upper,workdir=$W/usr.work" /usr ||
		return 1
	mount -t tmpfs -o mode=755 tmpfs /var/lib/dkms || return 1
	# What the kernel's image and headers packages would have installed.
	k=/lib/modules/$KVER
	mkdir -p "$k" || return 1
	ln -s "$MODS/kernel" "$k/kernel" || return 1
	cp "$MODS"/modules.order "$MODS"/modules.builtin \
		"$MODS"/modules.builtin.modinfo "$k/" || return 1
	ln -s "$KDIR" "$k/build" || return 1
	depmod -a "$KVER"
}
t0=$(date +%s)
if ! out=$(setup 2>&1); then
	echo "$out" | diag
	not_ok host_setup
	exit 1
fi
note "host setup (depmod of the test kernel's modules): $(($(date +%s) - t0))s"
ok host_setup

# A dkms step, timed; its output is shown when it fails.
dkms_step()
{
	local what=$1 t0 rc
	shift
	t0=$(date +%s.%N)
	"$@" >"$W/$what.log" 2>&1
	rc=$?
	note "$what: $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f')s"
	if [ "$rc" != 0 ]; then
		tail -n 40 "$W/$what.log" | diag
		find /var/lib/dkms -name make.log -exec tail -n 40 {} + 2>/dev/null | diag
	fi
	return "$rc"
}

caps=$(xen_caps)
check "$([ "$caps" = 0 ]; echo $?)" stock_kvm_has_no_xen_caps "KVM_CAP_XEN_HVM=$caps"

# The operator's steps (README.md, "With DKMS").
dkms_step dkms-src make -s dkms-src
check $? sources_in_usr_src
dkms_step add dkms add "$MOD/$VERSION"
check $? add
dkms_step build dkms build "$MOD/$VERSION"
check $? build
dkms_step install dkms install "$MOD/$VERSION"
check $? install

KO=/lib/modules/$KVER/updates/dkms/$MOD.ko
status=$(dkms status "$MOD" 2>&1)
note "dkms status: $status"
[ -f "$KO" ] && echo "$status" | grep -q "^$MOD/$VERSION, $KVER, [^:]*: installed"
check $? installed_for_running_kernel

# The module the kernel's tree now offers under that name is dkms's, this
# tree's version, for this kernel, and signed with the key dkms made.
modinfo -k "$KVER" "$MOD" 2>&1 | grep -vE '^(signature:|parm:|[[:space:]])' | diag
file=$(modinfo -k "$KVER" -F filename "$MOD" 2>/dev/null)
ver=$(modinfo -k "$KVER" -F version "$MOD" 2>/dev/null)
magic=$(modinfo -k "$KVER" -F vermagic "$MOD" 2>/dev/null)
[ "$file" = "$KO" ] && [ "$ver" = "$VERSION" ] && [ "${magic%% *}" = "$KVER" ]
check $? modinfo_version_and_vermagic "file $file, version $ver, vermagic ${magic%% *}"

# Key IDs as modinfo prints them (hex bytes, colons) and openssl's serial.
hexid() { tr -d ':\n' | tr a-f A-F | sed 's/^0*//'; }
sig_key=$(modinfo -k "$KVER" -F sig_key "$MOD" 2>/dev/null | hexid)
serial=$(openssl x509 -inform DER -in /var/lib/dkms/mok.pub -noout -serial 2>/dev/null |
	sed 's/^serial=//' | hexid)
if grep -q '^CONFIG_MODULE_SIG=y' "$KDIR/.config" 2>/dev/null; then
	[ -n "$sig_key" ] && [ "$sig_key" = "$serial" ]
	check $? signed_with_dkms_mok "sig_key $sig_key, mok.pub serial $serial"
else
	# dkms signs only for a kernel that checks signatures.
	[ -z "$sig_key" ]
	check $? unsigned_for_kernel_without_module_sig "sig_key $sig_key"
fi

srcversion=$(modinfo -k "$KVER" -F srcversion "$MOD" 2>/dev/null)
if dkms_step modprobe modprobe "$MOD"; then
	LOADED=1
	[ "$(cat /sys/module/$MODNAME/version 2>/dev/null)" = "$VERSION" ] &&
		[ "$(cat /sys/module/$MODNAME/srcversion 2>/dev/null)" = "$srcversion" ]
	check $? modprobe_loads_dkms_module
else
	not_ok modprobe_loads_dkms_module
fi
caps=$(xen_caps)
check "$([ "$caps" != 0 ]; echo $?)" xen_caps_with_module "KVM_CAP_XEN_HVM=$caps"

rmmod "$MODNAME" && LOADED=
caps=$(xen_caps)
check "$([ -z "$LOADED" ] && [ "$caps" = 0 ]; echo $?)" rmmod_restores_stock \
	"KVM_CAP_XEN_HVM=$caps"

dkms_step remove dkms remove "$MOD/$VERSION" --all
check $? remove
status=$(dkms status "$MOD" 2>&1)
[ ! -e "$KO" ] && [ -z "$status" ] &&
	! modinfo -k "$KVER" "$MOD" >/dev/null 2>&1
check $? removed_from_kernel_tree "status: $status"
