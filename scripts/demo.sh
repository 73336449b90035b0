#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: one guest image, three personalities.
#
# Installs what it needs from Debian's archive, builds kvm-persona.ko and
# the demo guest (Debian's own kernel, busybox, an ext4 root as VHD), boots
# the test host once (stock Debian 12 kernel under TCG, a real nested KVM
# inside), loads kvm-persona and boots the same guest image three times
# with unmodified QEMU 10: as a Xen HVM guest, as a Hyper-V guest and as a
# KVM guest.  Ends with a side-by-side table of what the guest saw.
#
# Usage: scripts/demo.sh [--no-hypercalls]
#   --no-hypercalls   skip the first part (a small guest making raw Xen
#                     hypercalls, built from the KVM selftest library)
#
# Takes about 5 minutes on a 2-core machine once the dependencies are in;
# each nested guest boot takes 30-40 s.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

HYPERCALLS=1
case ${1:-} in
--no-hypercalls) HYPERCALLS= ;;
'') ;;
*) sed -n '/^# Usage:/,/^#  *hypercalls/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

T0=$(date +%s)
say() { echo "demo: [$(($(date +%s) - T0))s] $*" >&2; }

say "installing dependencies (Debian archive only)"
scripts/deps.sh
# shellcheck disable=SC1091
. .cache/env.sh

say "building kvm-persona.ko against $KVER"
make -s module KDIR="$KDIR" 2>&1 | grep -v 'Skipping BTF' || true
[ -f src/kvm-persona.ko ] || { say "error: the module did not build"; exit 1; }

say "building the guest image (Debian's $KVER kernel, busybox, ext4 root as VHD)"
scripts/guest-image.sh >/dev/null
sed 's/^/    /' .cache/guest/manifest >&2

# The first part is a bonus: without its binary the guests still run.
if [ -n "$HYPERCALLS" ]; then
	say "building the hypercall demo (KVM selftest library from linux-source-6.1)"
	if ! make -s -C selftests demo >/dev/null 2>&1; then
		say "note: the hypercall demo did not build; skipping that part"
		HYPERCALLS=
	fi
fi

# What runs inside the test host, in the chroot of this machine's root.
INNER=$(cat <<'EOF'
echo "== test host: stock $(uname -r), /dev/kvm from kvm-amd (nested SVM under TCG)"
if [ -n "$HYPERCALLS" ]; then
	echo
	echo "== part 1: Xen hypercalls from a tiny guest"
	echo "== without kvm-persona:"
	selftests/out/persona_demo | head -n 2
fi
echo
echo "== insmod src/kvm-persona.ko"
insmod src/kvm-persona.ko
dmesg | grep kvm_persona: | tail -n 1
if [ -n "$HYPERCALLS" ]; then
	echo
	selftests/out/persona_demo || echo "(persona_demo exited with status $?)"
fi
echo
echo "== part 2: one guest image, three personalities"
echo "== the same vmlinuz, initrd.gz and root.vhd; only QEMU's options differ"
rc=0
scripts/guest-check.sh --demo --no-load || rc=$?
echo
echo "== rmmod kvm_persona"
rmmod kvm_persona && echo "unloaded; KVM is stock again"
exit $rc
EOF
)

say "booting the test host; inside it:"
rc=0
scripts/testhost.sh --timeout 1200 -- "HYPERCALLS='$HYPERCALLS'"$'\n'"$INNER" || rc=$?

say "finished in $(($(date +%s) - T0))s (exit status $rc)"
exit "$rc"
