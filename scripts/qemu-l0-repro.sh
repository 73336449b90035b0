#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Show QEMU's nested-SVM flaw, and its fix, with scripts/qemu-l0/intr_twice.c
# (see "Nested SVM under TCG" in Documentation/testing.rst): build it
# against the upstream KVM selftest library (make -C selftests upstream),
# then run it in a test host under the machine's own QEMU
# (TESTHOST_STOCK_QEMU=1) and under scripts/qemu-l0.sh's, if built:
# without and with the kicker thread, ROUNDS times each.
#
# Usage: scripts/qemu-l0-repro.sh [-n INTERRUPTS] [-r ROUNDS] [stock|fixed]...
#   (default: -n 2000 -r 3, both L0s)
# Prints intr_twice's lines, prefixed with the L0; exit status 0 when the
# stock L0 showed the flaw and the fixed one did not.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CACHE=${CACHE:-$ROOT/.cache}

N=2000
ROUNDS=3
while getopts n:r: opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	*) sed -n '/^# Usage:/,/^# Prints/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
L0S=${*:-stock fixed}

[ -e "$CACHE/env.sh" ] || scripts/deps.sh >&2
# shellcheck disable=SC1091
. "$CACHE/env.sh"
make -s -C selftests upstream >&2
KVM_SRC=$LINUX_SRC/tools/testing/selftests/kvm
LIB=selftests/out/upstream/lib
BIN=$CACHE/intr_twice
# shellcheck disable=SC2046 # one object per word
gcc -Wall -O2 -g -std=gnu99 -D_GNU_SOURCE -mno-red-zone -U_FORTIFY_SOURCE \
	-fno-stack-protector -fno-PIE -static -pthread \
	-I"$LINUX_SRC/tools/include" -I"$LINUX_SRC/tools/arch/x86/include" \
	-I"$KVM_SRC/include" -I"$KVM_SRC/include/x86_64" \
	-I"$LINUX_SRC/tools/testing/selftests" -isystem "$LINUX_SRC/usr/include" \
	scripts/qemu-l0/intr_twice.c $(ls "$LIB"/*.o "$LIB"/x86_64/*.o) -ldl \
	-o "$BIN"

# What runs in the test host: the kicker toggles the emulated VGA's
# memory decoding, the one PCI device L1 does not use.
RUN=$CACHE/intr_twice.run.sh
cat >"$RUN" <<EOF
vga=\$(grep -l 0x030000 /sys/bus/pci/devices/*/class | head -n1)
for r in \$(seq $ROUNDS); do
	$BIN -n $N || true
	$BIN -n $N -p "\${vga%/class}/config" || true
done
EOF

rc=0
for l0 in $L0S; do
	case $l0 in
	stock) env=(TESTHOST_STOCK_QEMU=1) ;;
	fixed)
		env=()
		scripts/qemu-l0.sh --print >/dev/null ||
			{ echo "# no fixed L0: run scripts/qemu-l0.sh" >&2; rc=1; continue; }
		;;
	*) echo "unknown L0 $l0" >&2; exit 2 ;;
	esac
	out=$(env "${env[@]}" scripts/testhost.sh --timeout 1200 -- bash "$RUN" 2>&1) || true
	echo "$out" | grep '^testhost: L0:' || true
	lines=$(echo "$out" | grep '^intr_twice:' | sed "s/^/$l0: /")
	echo "$lines"
	extra=$(echo "$lines" | awk '{ for (i = 1; i < NF; i++) if ($i == "extra") s += $(i + 1) } END { print s + 0 }')
	echo "$l0: total extra deliveries: $extra"
	case $l0 in
	stock) [ "$extra" -gt 0 ] || rc=1 ;;
	fixed) [ "$extra" -eq 0 ] || rc=1 ;;
	esac
done
exit $rc
