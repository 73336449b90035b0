#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the demo guest in its three personalities and check what it saw.
# Runs inside the test host, after scripts/guest-image.sh has built the
# image on the build machine:
#
#   scripts/guest-image.sh
#   scripts/testhost.sh --timeout 900 -- scripts/guest-check.sh
#
# Loads src/kvm-persona.ko unless kvm_persona is already loaded, boots each
# mode with scripts/guest-boot.sh and asserts, per mode, the hypervisor the
# guest detected, its clocksource (in Xen mode also the vcpuop clockevent
# and PV spinlocks), root device, NIC driver, event-channel ABI, vCPU
# count, a real network round trip, a write to the root disk and a
# guest-initiated shutdown, QEMU's exit status and, in Xen mode, that
# QEMU saw no hypercall it does not implement beyond those it also sees
# with upstream KVM.  Prints KTAP ("ok N guest.xen.hypervisor")
# and ends with "N passed, N failed".
#
# Usage: scripts/guest-check.sh [options]
#   --modes "LIST"   modes to boot, in order (default "xen hyperv kvm")
#   --smp N          guest vCPUs (default 2)
#   --attempts N     boot a mode up to N times while it fails to complete
#                    (default 1: no retry; see "Retries" below)
#   --repeat N       boot the modes N times over, in rounds, each boot
#                    checked (boot-reliability counts: use --attempts 1);
#                    every round but the last is kept as MODE.roundR.*
#   --module PATH    the module to load (default src/kvm-persona.ko)
#   --image DIR      the guest image (default .cache/guest); make check
#                    also boots the 32-bit one, .cache/guest32
#   --name NAME      the tests' prefix and the boots' directory under the
#                    output (default guest: "ok N guest.xen.hypervisor")
#   --append ARGS    more guest kernel arguments (experiments)
#   --no-load        do not load the module (Xen mode then needs a kernel
#                    with KVM's own Xen support)
#   --table          also print the side-by-side table
#   --demo           for make demo: live guest consoles, the table, and
#                    only the failed checks and the summary line
#   --start N        number the first test N (default 1), and
#   --no-plan        print no "TAP version" and "1..N" lines: for a caller
#                    that embeds these results in its own KTAP stream
#
# Retries: none by default.  A boot that does not complete (no facts, no
# PERSONA-DONE, or no guest poweroff) is a failure.  Boots used to fail
# now and then because QEMU's TCG emulation of SVM delivered an injected
# interrupt twice; the test host's QEMU is built with a fix
# (Documentation/testing.rst, "Nested SVM under TCG").  --attempts N
# boots a mode again, for experiments only: each failed attempt is
# reported ("# retry:") and kept as MODE.attemptN.* in the output
# directory.  A boot that completes is checked as it is: a wrong fact is
# never retried.
#
# Exit status: 0 when every check passed, 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

MODES="xen hyperv kvm"
SMP=2
ATTEMPTS=1
REPEAT=1
MODULE=$ROOT/src/kvm-persona.ko
IMAGE=.cache/guest
NAME=guest
LOAD=1
BOOT_ARGS=()
TABLE=
DEMO=
START=1
PLAN=1
while [ $# -gt 0 ]; do
	case $1 in
	--modes|--smp|--module|--start|--attempts|--repeat|--append|--image|--name)
		[ $# -ge 2 ] || { echo "guest-check: $1 needs a value" >&2; exit 2; }
		case $1 in
		--modes) MODES=$2 ;;
		--smp) SMP=$2 ;;
		--module) MODULE=$2 ;;
		--start) START=$2 ;;
		--attempts) ATTEMPTS=$2 ;;
		--repeat) REPEAT=$2 ;;
		--append) BOOT_ARGS+=(--append "$2") ;;
		--image) IMAGE=$2 ;;
		--name) NAME=$2 ;;
		esac
		shift 2
		;;
	--no-load) LOAD=; shift ;;
	--no-plan) PLAN=; shift ;;
	--table) TABLE=1; shift ;;
	--demo) DEMO=1; TABLE=1; shift ;;
	*) sed -n '/^# Usage:/,/^# Exit/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

[[ $START =~ ^[1-9][0-9]*$ ]] || { echo "guest-check: bad --start $START" >&2; exit 2; }
[[ $ATTEMPTS =~ ^[1-9]$ ]] || { echo "guest-check: bad --attempts $ATTEMPTS" >&2; exit 2; }
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "guest-check: bad --repeat $REPEAT" >&2; exit 2; }
[[ $NAME =~ ^[a-z][a-z0-9_]*$ ]] || { echo "guest-check: bad --name $NAME" >&2; exit 2; }
N=$((START - 1))
PASS=0
FAIL=0
FAILED=()
# In demo mode the KTAP lines give way to the table; failures still show.
ok()
{
	N=$((N + 1)); PASS=$((PASS + 1))
	[ -n "$DEMO" ] || echo "ok $N $1"
}
not_ok()
{
	N=$((N + 1)); FAIL=$((FAIL + 1))
	FAILED+=("$1${2:+ # $2}")
	[ -n "$DEMO" ] || echo "not ok $N $1${2:+ # $2}"
}
diag() { echo "# $*"; }

[ -n "$DEMO" ] || [ -z "$PLAN" ] || echo "TAP version 13"

OUT=${TESTHOST_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/guest-check.XXXXXX")}/${NAME}s
mkdir -p "$OUT"

# --------------------------------------------------------------- module

if [ -n "$LOAD" ] && ! grep -q '^kvm_persona ' /proc/modules; then
	if msg=$(insmod "$MODULE" 2>&1); then
		diag "loaded $MODULE: $(dmesg | grep 'kvm_persona:' | tail -n 1)"
	else
		diag "insmod $MODULE failed: $msg"
	fi
fi

if [ ! -e "$IMAGE/root.vhd" ]; then
	not_ok "$NAME.image" "no $IMAGE/root.vhd: run scripts/guest-image.sh first"
	[ -z "$PLAN" ] || echo "1..$N"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi

IMAGE_KVER=$(sed -n 's/^kernel *\([^:]*\):.*/\1/p' "$IMAGE/manifest" 2>/dev/null)

# --------------------------------------------------------------- boots

# What each mode must show and the checks of one boot: shared with
# scripts/libvirt-check.sh.
# shellcheck source=scripts/lib-guest-facts.sh
. "$ROOT/scripts/lib-guest-facts.sh"

# One boot of MODE; its facts land in $OUT/MODE.facts.
boot_once()
{
	local mode=$1
	# A boot takes 30-80 s here even on a loaded machine; 180 s keeps a
	# hung guest from holding the run for long.
	if [ -n "$DEMO" ]; then
		# Its verdict is in the facts file, checked below.
		scripts/guest-boot.sh "$mode" --smp "$SMP" --timeout 180 --image "$IMAGE" --out "$OUT" "${BOOT_ARGS[@]}" --brief || true
	else
		scripts/guest-boot.sh "$mode" --smp "$SMP" --timeout 180 --image "$IMAGE" --out "$OUT" "${BOOT_ARGS[@]}" --quiet 2>&1 |
			sed 's/^/# /' || true
	fi
}

# ------------------------------------------------- tracepoints, debugfs
#
# A Xen-mode boot with the module loaded runs with its tracepoints on
# (Documentation/abi.rst, "Observing a VM"), while a background loop
# copies the VM's debugfs files; the events a Linux guest must cause and
# the hypercall counts are then checked (MODE.trace_*, MODE.debugfs_*).
TRACEFS=/sys/kernel/tracing
OBSERVE=
SNAP_PID=
observe_start()
{
	OBSERVE=
	[ "$1" = xen ] && grep -q '^kvm_persona ' /proc/modules || return 0
	OBSERVE=1
	[ -e "$TRACEFS/trace" ] || mount -t tracefs tracefs "$TRACEFS"
	[ -e /sys/kernel/debug/kvm ] || mount -t debugfs debugfs /sys/kernel/debug
	echo 0 >"$TRACEFS/tracing_on"
	echo 16384 >"$TRACEFS/buffer_size_kb"
	: >"$TRACEFS/trace"
	echo 1 >"$TRACEFS/events/kvm_persona/enable"
	echo 1 >"$TRACEFS/tracing_on"
	rm -f "$OUT/$1.debugfs"
	# The last copy taken while the VM ran is what is checked.
	(
		local d
		while sleep 2; do
			for d in /sys/kernel/debug/kvm-persona/*/; do
				[ -e "$d/hypercalls" ] || continue
				cat "$d/config" "$d/hypercalls" >"$OUT/$1.debugfs.new" 2>/dev/null &&
					mv "$OUT/$1.debugfs.new" "$OUT/$1.debugfs"
			done
		done
	) &
	SNAP_PID=$!
}

# Lines of event $2 in the trace $1 matching the pattern $3.
trace_count()
{
	grep -c " $2: .*$3" "$1" || true
}

# Tracing off, the trace kept as $OUT/MODE.trace.
observe_stop()
{
	[ -n "$OBSERVE" ] || return 0
	kill "$SNAP_PID" 2>/dev/null
	wait "$SNAP_PID" 2>/dev/null || true
	echo 0 >"$TRACEFS/tracing_on"
	cat "$TRACEFS/trace" >"$OUT/$1.trace"
	echo 0 >"$TRACEFS/events/kvm_persona/enable"
	: >"$TRACEFS/trace"
}

observe_check()
{
	local mode=$1 trace=$OUT/$1.trace snap=$OUT/$1.debugfs n
	[ -n "$OBSERVE" ] || return 0
	diag "$mode: $(grep -c ': kvm_xen_' "$trace") events traced"
	# No kvm_xen_hypercall_page: since XSA-466 (6.1.119) Linux issues
	# vmcall/vmmcall itself and never writes the hypercall page
	# (xen_observe_test checks that event).
	n=$(trace_count "$trace" kvm_xen_hypercall_done 'by kernel')
	check "$NAME.$mode.trace_hypercalls_in_kernel" "$([ "$n" -ge 1 ] && echo yes)" yes
	n=$(trace_count "$trace" kvm_xen_hypercall_done 'by vmm')
	check "$NAME.$mode.trace_hypercalls_by_vmm" "$([ "$n" -ge 1 ] && echo yes)" yes
	n=$(trace_count "$trace" kvm_xen_evtchn_set ' fast')
	check "$NAME.$mode.trace_events_delivered" "$([ "$n" -ge 1 ] && echo yes)" yes
	n=$(($(trace_count "$trace" kvm_xen_timer_arm '') > 0 &&
	     $(trace_count "$trace" kvm_xen_timer_fire '') > 0))
	check "$NAME.$mode.trace_timer_armed_and_fired" "$n" 1
	# Linux's vcpuop timer (VCPUOP_set_singleshot_timer, 24) is the
	# kernel's; HVMOP_set_param (hvm_op, 34) is QEMU's.
	check "$NAME.$mode.debugfs_vcpu_op_in_kernel" \
		"$(awk '$2 == "vcpu_op" && $3 > 0 { print "yes" }' "$snap" 2>/dev/null)" yes
	check "$NAME.$mode.debugfs_hvm_op_by_vmm" \
		"$(awk '$2 == "hvm_op" && $4 > 0 { print "yes" }' "$snap" 2>/dev/null)" yes
}

# Did the boot run to its end: the guest's checks done, then its poweroff?
boot_completed()
{
	[ "$(fact "$1" host_done_s)" != none ] &&
		[ "$(fact "$1" host_shutdown)" = guest-poweroff ]
}

RETRIED=()
BOOTS=
for ((round = 1; round <= REPEAT; round++)); do
	BOOTS+=" $MODES"
done
declare -A ROUND=()
for mode in $BOOTS; do
	facts=$OUT/$mode.facts
	ROUND[$mode]=$((${ROUND[$mode]:-0} + 1))
	if [ "${ROUND[$mode]}" -gt 1 ]; then
		# --repeat: keep the previous round's files.
		for f in "$OUT/$mode".*; do
			[ -e "$f" ] || continue
			case $f in
			*.round[0-9]*) ;;
			*) mv "$f" "$OUT/$mode.round$((ROUND[$mode] - 1)).${f#"$OUT/$mode."}" ;;
			esac
		done
		diag "--- $mode: round ${ROUND[$mode]} of $REPEAT"
	fi
	attempt=1
	while :; do
		rm -f "$facts"
		diag "--- $mode: booting, attempt $attempt ($(date +%T))"
		observe_start "$mode"
		boot_once "$mode"
		observe_stop "$mode"
		if { [ -s "$facts" ] && boot_completed "$facts"; } ||
			[ "$attempt" -ge "$ATTEMPTS" ]; then
			break
		fi
		if [ -s "$facts" ]; then
			why="$(fact "$facts" host_shutdown) after $(fact "$facts" host_total_s)s"
		else
			why="guest-boot.sh wrote no facts"
		fi
		grep -q 'soft lockup\|rcu_preempt detected stall' "$OUT/$mode.console" 2>/dev/null &&
			why+=", guest stall"
		diag "retry: $mode attempt $attempt did not complete ($why); kept as $mode.attempt$attempt.*"
		RETRIED+=("$mode attempt $attempt: $why")
		for f in "$OUT/$mode".*; do
			case $f in
			*.attempt*) ;;
			*) mv "$f" "$OUT/$mode.attempt$attempt.${f#"$OUT/$mode."}" ;;
			esac
		done
		attempt=$((attempt + 1))
	done
	if [ ! -s "$facts" ]; then
		not_ok "$NAME.$mode.boot" "guest-boot.sh produced no facts"
		continue
	fi
	facts_check_boot "$NAME" "$mode" "$facts" "$IMAGE_KVER" "$SMP"
	observe_check "$mode"
	# QEMU's own exit (guest-boot.sh works around QEMU 10.0's crash on
	# exit in Xen mode; a crash here is a new one).
	check "$NAME.$mode.qemu_exit" "$(fact "$facts" host_qemu_rc)" 0
	[ "$mode" != xen ] || facts_check_unimp "$NAME" "$OUT/xen.qemu.log"
	crashed=$(fact "$facts" host_qemu_crashed)
	case $crashed in
	yes*) diag "note: $mode: QEMU crashed after the guest powered off: $crashed" ;;
	esac
	unimp=$(fact "$facts" host_qemu_unimp)
	if [ "$unimp" != 0 ] && [ -e "$OUT/$mode.qemu.log" ]; then
		diag "note: $mode: QEMU logged $unimp unimplemented hypercall(s):"
		sort "$OUT/$mode.qemu.log" | uniq -c | sed 's/^/#   /'
	fi
done

# --------------------------------------------------------------- table

# One row per mode; column widths follow the widest cell.
print_table()
{
	local mode f rows=()
	rows+=("mode|hypervisor|clocksource|root device|NIC (driver)|event channels|vCPUs|net|boot|total|shutdown")
	for mode in $MODES; do
		f=$OUT/$mode.facts
		local sd ev
		sd=$(fact "$f" host_shutdown)
		case $sd in
		guest-poweroff) sd="guest poweroff" ;;
		esac
		case $(fact "$f" host_qemu_crashed) in
		yes*) sd="$sd (then QEMU segfaulted)" ;;
		esac
		ev=$(fact "$f" evtchn)
		[ "$(fact "$f" evtchn_upcall)" != vector ] || ev="$ev, vector"
		rows+=("$mode|$(fact "$f" hypervisor)|$(fact "$f" clocksource)|$(fact "$f" rootdev)|$(fact "$f" nic) ($(fact "$f" nic_driver))|$ev|$(fact "$f" vcpus)|$(fact "$f" net)|$(fact "$f" host_boot_s)s|$(fact "$f" host_total_s)s|$sd")
	done
	printf '%s\n' "${rows[@]}" | awk -F'|' '
		{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF }
		END {
			for (r = 1; r <= NR; r++) {
				line = ""
				for (i = 1; i <= n; i++)
					line = line sprintf(i < n ? "%-" w[i] "s  " : "%s", cell[r, i])
				print line
				if (r == 1) {
					line = ""
					for (i = 1; i <= n; i++) { s = sprintf("%" w[i] "s", ""); gsub(/ /, "-", s); line = line s (i < n ? "  " : "") }
					print line
				}
			}
		}'
	echo
	echo "boot: QEMU start to the guest's /sbin/init; total: to QEMU's exit (host clock;"
	echo "the guest runs nested under the test host's TCG, so these are slow by design)."
}

if [ -n "$TABLE" ]; then
	echo
	print_table
	echo
fi

if [ "${#RETRIED[@]}" -gt 0 ]; then
	diag "boots retried: ${#RETRIED[@]}"
	printf '#   %s\n' "${RETRIED[@]}"
fi
if [ -n "$DEMO" ] && [ "$FAIL" -ne 0 ]; then
	echo "failed checks:"
	printf '  %s\n' "${FAILED[@]}"
fi
[ -n "$DEMO" ] || [ -z "$PLAN" ] || echo "1..$N"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
