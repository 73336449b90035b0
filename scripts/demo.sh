#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot the test host (stock Debian 12 kernel under TCG), load
# kvm-persona next to kvm.ko, and run a small Xen guest that shows which
# hypercalls the kernel answers and which reach the VMM.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

say() { echo "demo: $*" >&2; }

say "installing dependencies (Debian archive only)"
scripts/deps.sh
# shellcheck disable=SC1091
. .cache/env.sh

say "building kvm-persona.ko against $KVER"
make -s module KDIR="$KDIR" 2>&1 | grep -v 'Skipping BTF' || true
say "building the demo guest (KVM selftest library from linux-source-6.1)"
make -s -C selftests demo >/dev/null

say "booting the test host; inside it:"
scripts/testhost.sh --timeout 600 -- '
	echo "== stock kernel: $(uname -r), $(grep -c . /proc/modules) modules, /dev/kvm from kvm-amd"
	echo "== without kvm-persona:"
	selftests/out/persona_demo | head -n 2
	echo "== insmod src/kvm-persona.ko"
	insmod src/kvm-persona.ko
	dmesg | grep kvm_persona | tail -n 1
	echo
	selftests/out/persona_demo
	rc=$?
	echo
	echo "== rmmod kvm_persona"
	rmmod kvm_persona && echo "unloaded; KVM is stock again"
	exit $rc
'
