#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make boots: boot reliability.  The demo guest boots BOOTS times in each
# of its three personalities (Xen HVM, Hyper-V, plain KVM), with no
# retry, on each test host kernel:
#
#   module   Debian's stock 6.1 with kvm-persona loaded
#   anchor   Debian's 6.12 (bookworm-backports) with KVM's own Xen
#            support, no module: the reference
#
# One test host per kernel boots the modes in rounds (scripts/guest-check.sh
# --repeat BOOTS --attempts 1); every boot is checked as in make check.
# Prints KTAP (one line per kernel and mode: "ok 1 boots.module.xen # 20
# of 20"), a table, and "N passed, N failed".  A mode passes when every
# one of its boots completed and passed its checks.
#
# Environment: BOOTS (default 20), BOOT_KERNELS (default "module anchor"),
# BOOT_APPEND (more guest kernel arguments, for experiments).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

BOOTS=${BOOTS:-20}
KERNELS=${BOOT_KERNELS:-module anchor}
MODES="xen hyperv kvm"
[[ $BOOTS =~ ^[1-9][0-9]*$ ]] || { echo "boots: bad BOOTS=$BOOTS" >&2; exit 2; }

# Per boot, about 20 s on a quiet 2-core machine; a generous budget.
TIMEOUT=$((600 + BOOTS * 3 * 120))

declare -A GOOD=() ALL=()
N=0
PASS=0
FAIL=0

# Count the boots of log $1 per mode: each boot's checks start with
# "guest.MODE.hypervisor" (or "guest.MODE.boot" when it left no facts);
# a boot is good when none of its checks failed.
count()
{
	awk '
	function close_boot(m) {
		if (!(m in open)) return
		all[m]++
		if (!failed[m]) good[m]++
	}
	/^(not )?ok [0-9]+ guest\./ {
		bad = ($1 == "not")
		name = bad ? $4 : $3
		split(name, p, ".")
		m = p[2]
		if (p[3] == "hypervisor" || p[3] == "boot") {
			close_boot(m)
			open[m] = 1
			failed[m] = 0
		}
		if (bad) failed[m] = 1
	}
	END {
		for (m in open) close_boot(m)
		for (m in all) print m, good[m] + 0, all[m]
	}' "$1"
}

echo "TAP version 13"
echo "# boots: $BOOTS per mode, no retry, kernels: $KERNELS"
for kernel in $KERNELS; do
	args=()
	check=(scripts/guest-check.sh --modes "$MODES" --attempts 1
	       --repeat "$BOOTS" --no-plan)
	case $kernel in
	module)
		make -s module W=1 || exit 1
		;;
	anchor)
		scripts/deps.sh --anchor >/dev/null || exit 1
		# shellcheck disable=SC1091
		. .cache/env.sh
		args=(--kernel-dir "$ANCHOR_KERNEL")
		check+=(--no-load)
		;;
	*)
		echo "boots: unknown kernel $kernel" >&2
		exit 2
		;;
	esac
	[ -z "${BOOT_APPEND:-}" ] || check+=(--append "$BOOT_APPEND")
	log=$(mktemp)
	start=$(date +%s)
	scripts/testhost.sh "${args[@]}" --timeout "$TIMEOUT" -- "${check[@]}" \
		>"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	grep -E '^(not )?ok [0-9]+ guest\.' "$log" | sed 's/^/# /'
	while read -r mode good all; do
		GOOD[$kernel.$mode]=$good
		ALL[$kernel.$mode]=$all
	done < <(count "$log")
	echo "# $kernel: test host status $rc, ${secs} s"
	[ "$rc" -le 1 ] || tail -n 30 "$log" | sed 's/^/# /'
	for mode in $MODES; do
		N=$((N + 1))
		good=${GOOD[$kernel.$mode]:-0}
		all=${ALL[$kernel.$mode]:-0}
		if [ "$all" -eq "$BOOTS" ] && [ "$good" -eq "$BOOTS" ] &&
		   [ "$rc" -le 1 ]; then
			echo "ok $N boots.$kernel.$mode # $good of $BOOTS"
			PASS=$((PASS + 1))
		else
			echo "not ok $N boots.$kernel.$mode # $good of $BOOTS completed and passed ($all booted)"
			FAIL=$((FAIL + 1))
		fi
	done
	rm -f "$log"
done

echo "#"
printf '# %-8s' kernel
for mode in $MODES; do printf ' %-10s' "$mode"; done
echo
for kernel in $KERNELS; do
	printf '# %-8s' "$kernel"
	for mode in $MODES; do
		printf ' %-10s' "${GOOD[$kernel.$mode]:-0}/$BOOTS"
	done
	echo
done
echo "1..$N"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
