#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Show QEMU's nested-SVM flaws, and their fixes, with the reproducers in
# scripts/qemu-l0/ (see "Nested SVM under TCG" in Documentation/testing.rst):
#   intr_twice    an injected interrupt delivered twice (0001-*.patch);
#                 run without and with its kicker thread;
#   hflags2_race  another vCPU's FXRSTOR rewriting the first vCPU's SVM
#                 state (0003-*.patch); run without and with its FXRSTOR
#                 thread.
# Builds them against the upstream KVM selftest library (make -C
# selftests upstream), then runs them in a test host under the machine's
# own QEMU (TESTHOST_STOCK_QEMU=1) and under scripts/qemu-l0.sh's, if
# built, ROUNDS times each.
#
# Usage: scripts/qemu-l0-repro.sh [-t TEST] [-n COUNT] [-r ROUNDS] [stock|fixed]...
#   (default: both tests, -n 2000 interrupts / 2000000 exits, -r 3, both L0s)
# Prints the reproducers' lines, prefixed with the L0; exit status 0 when
# the stock L0 showed each flaw and the fixed one showed none.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CACHE=${CACHE:-$ROOT/.cache}

N=
ROUNDS=3
TESTS="intr_twice hflags2_race"
while getopts t:n:r: opt; do
	case $opt in
	t) TESTS=$OPTARG ;;
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
build()
{
	# shellcheck disable=SC2046 # one object per word
	gcc -Wall -O2 -g -std=gnu99 -D_GNU_SOURCE -mno-red-zone -U_FORTIFY_SOURCE \
		-fno-stack-protector -fno-PIE -static -pthread \
		-I"$LINUX_SRC/tools/include" -I"$LINUX_SRC/tools/arch/x86/include" \
		-I"$KVM_SRC/include" -I"$KVM_SRC/include/x86_64" \
		-I"$LINUX_SRC/tools/testing/selftests" -isystem "$LINUX_SRC/usr/include" \
		"scripts/qemu-l0/$1.c" $(ls "$LIB"/*.o "$LIB"/x86_64/*.o) -ldl \
		-o "$CACHE/$1"
}

# What runs in the test host.  intr_twice's kicker toggles the emulated
# VGA's memory decoding, the one PCI device L1 does not use.
RUN=$CACHE/qemu-l0-repro.run.sh
: >"$RUN"
for t in $TESTS; do
	build "$t"
	case $t in
	intr_twice)
		cat >>"$RUN" <<EOF
vga=\$(grep -l 0x030000 /sys/bus/pci/devices/*/class | head -n1)
for r in \$(seq $ROUNDS); do
	$CACHE/intr_twice -n ${N:-2000} || true
	$CACHE/intr_twice -n ${N:-2000} -p "\${vga%/class}/config" || true
done
EOF
		;;
	hflags2_race)
		cat >>"$RUN" <<EOF
for r in \$(seq $ROUNDS); do
	$CACHE/hflags2_race -q -n ${N:-2000000} || true
	$CACHE/hflags2_race -n ${N:-2000000} || true
done
EOF
		;;
	*) echo "unknown test $t" >&2; exit 2 ;;
	esac
done

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
	out=$(env "${env[@]}" scripts/testhost.sh --timeout 1500 -- bash "$RUN" 2>&1) || true
	echo "$out" | grep '^testhost: L0:' || true
	echo "$out" | grep '^testhost: .*\(reset\|FAIL\|timed out\)' | sed "s/^/$l0: /" || true
	for t in $TESTS; do
		lines=$(echo "$out" | grep "^$t:" | sed "s/^/$l0: /") || true
		echo "$lines"
		case $t in
		intr_twice)
			bad=$(echo "$lines" | awk '{ for (i = 1; i < NF; i++) if ($i == "extra") s += $(i + 1) } END { print s + 0 }')
			runs=$(echo "$lines" | grep -c extra) || true
			echo "$l0: intr_twice: runs $runs, extra deliveries $bad"
			;;
		hflags2_race)
			# A run whose test host died prints nothing: count runs.
			bad=$(echo "$lines" | grep -c FAILED) || true
			runs=$(echo "$lines" | grep -c ' exits ') || true
			bad=$((bad + 2 * ROUNDS - runs))
			echo "$l0: hflags2_race: runs $runs of $((2 * ROUNDS)), failed or missing $bad"
			;;
		esac
		case $l0 in
		stock) [ "$bad" -gt 0 ] || rc=1 ;;
		fixed) [ "$bad" -eq 0 ] || rc=1 ;;
		esac
	done
done
exit $rc
