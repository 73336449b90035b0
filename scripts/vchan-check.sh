#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two Xen guests on one host talking to each other through kvm-persona:
# the demo image (scripts/guest-image.sh) booted twice in Xen mode with
# unmodified QEMU, each running /bin/persona-vchan (selftests/
# persona_vchan.c) on the Xen drivers' device files.  Runs inside the test
# host, like scripts/guest-check.sh:
#
#   scripts/guest-image.sh
#   scripts/testhost.sh --timeout 900 -- scripts/vchan-check.sh
#
# Guest A grants a page to B with /dev/xen/gntalloc and offers B an event
# channel port with /dev/xen/evtchn; B binds to it, reads A's page and
# writes into it with /dev/xen/gntdev's grant copy, and they notify each
# other both ways, then time 2000 notification round trips and a second
# of grant copies, and the same over TCP through a virtio-net NIC pair
# joined by a QEMU socket netdev (the comparison make bench reports as
# P6); once A's program has exited, B's copies from A's grant
# fail (GNTST_general_error: the grant ended), once A's VM is gone with
# GNTST_bad_domain, and B's notification goes nowhere, without error.
# The host tells each guest its part on its console
# (the domain IDs come from /sys/module/kvm_persona/parameters/domains,
# matched to the QEMU processes), and then that each guest shut down by
# itself.  Prints KTAP ("ok N vchan.rx_data") and "N passed, N failed".
#
# Usage: scripts/vchan-check.sh [--module PATH] [--image DIR] [--name NAME]
#                               [--start N] [--no-plan] [--out DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
KO=src/kvm-persona.ko
IMAGE=.cache/guest
NAME=vchan
START=1
PLAN=1
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--module) KO=$2; shift 2 ;;
	--image) IMAGE=$2; shift 2 ;;
	--name) NAME=$2; shift 2 ;;
	--start) START=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--no-plan) PLAN=; shift ;;
	*) echo "usage: $0 [--module PATH] [--image DIR] [--name NAME] [--start N] [--no-plan] [--out DIR]" >&2
	   exit 2 ;;
	esac
done

PARAM=/sys/module/kvm_persona/parameters/domains
# shellcheck source=scripts/lib-ktap.sh
. "$ROOT/scripts/lib-ktap.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/vchan.XXXXXX")
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -z "$OUT" ] || { mkdir -p "$OUT" && cp "$W"/*.log "$OUT"/ 2>/dev/null; } || true
	rm -rf "$W"
	# Also after an early exit: the caller counts from this line.
	ktap_summary
}
trap cleanup EXIT

ktap_plan 17
if ! grep -q '^kvm_persona ' /proc/modules; then
	insmod "$KO" || { not_ok module_loads; exit 1; }
fi

# Boot one guest whose console reads $W/$1.in; its report goes to
# $W/$1.log (the live console lines, "  xen   12.3s | ...").
boot()
{
	local name=$1 fd=$2
	shift 2
	mkfifo "$W/$name.in"
	# Held open read-write: QEMU's end opens at once, and never sees EOF.
	eval "exec $fd<>\"$W/$name.in\""
	scripts/guest-boot.sh xen --image "$IMAGE" --timeout 400 \
		--append "persona.vchan=1 xen_emul_unplug=ide-disks" \
		--console-in "$W/$name.in" "$@" \
		>"$W/$name.log" 2>&1 &
	pids+=($!)
}

# Wait up to $3 seconds for guest $1's console to show $2 (a regex);
# prints the first matching line's console text.
await()
{
	local i line
	for ((i = 0; i < $3 * 2; i++)); do
		line=$(grep -aE "\| $2" "$W/$1.log" | head -n 1) || true
		if [ -n "$line" ]; then
			echo "${line#*| }"
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# The domain ID of the QEMU that guest-boot.sh $1 (a pid) started: its
# grandchild (guest-boot.sh -> timeout -> QEMU).
domid_of()
{
	local id pid
	while read -r id pid; do
		if [ "$(ps -o ppid= -p "$(ps -o ppid= -p "$pid" | tr -d ' ')" | tr -d ' ')" = "$1" ]; then
			echo "$id"
			return 0
		fi
	done <"$PARAM"
	return 1
}

# The comparison's wire: a virtio-net NIC in each guest, joined by a
# socket netdev (A listens, B connects).  Linux unplugs emulated NICs
# when it has Xen's PV drivers, virtio ones too: the guests are told to
# unplug only IDE disks (their root disk is PV anyway), and the PV NIC
# on QEMU's user network stays unused.
TCP_PORT=$((20000 + $$ % 20000))
boot a 5 --qemu-arg -netdev \
	--qemu-arg "socket,id=p0,listen=127.0.0.1:$TCP_PORT" \
	--qemu-arg -device --qemu-arg virtio-net-pci,netdev=p0
sleep 2
boot b 6 --qemu-arg -netdev \
	--qemu-arg "socket,id=p0,connect=127.0.0.1:$TCP_PORT" \
	--qemu-arg -device --qemu-arg virtio-net-pci,netdev=p0
if ! await a 'PERSONA-VCHAN ready' 300 >/dev/null ||
   ! await b 'PERSONA-VCHAN ready' 300 >/dev/null; then
	not_ok both_ready "a guest did not reach persona-vchan"
	tail -n 20 "$W"/a.log "$W"/b.log | sed 's/^/# /'
	exit 1
fi
ok both_ready
ida=$(domid_of "${pids[0]}") || true
idb=$(domid_of "${pids[1]}") || true
if [ -z "$ida" ] || [ -z "$idb" ] || [ "$ida" = "$idb" ]; then
	not_ok domain_ids "A=${ida:-?} B=${idb:-?} in $(tr '\n' ';' <"$PARAM")"
	exit 1
fi
ok domain_ids "A is $ida, B is $idb"

echo "offer $idb" >&5
if ! offer=$(await a 'PERSONA-VCHAN offer [0-9]+ [0-9]+' 60); then
	not_ok offer "A made no offer"
	tail -n 20 "$W"/a.log | sed 's/^/# /'
	exit 1
fi
# shellcheck disable=SC2086 # three words, split on purpose
set -- $offer
ok offer "ref $3, port $4"
echo "bind $ida $3 $4" >&6

# Both run their part and shut down by themselves.
rc_a=0
rc_b=0
wait "${pids[0]}" || rc_a=$?
wait "${pids[1]}" || rc_b=$?
pids=()

fact() { sed -n "s/.*| PERSONA-FACT $2=//p" "$W/$1.log" | head -n 1 | tr -d '\r'; }
fact_is() # name guest key want
{
	local got
	got=$(fact "$2" "$3")
	if [ "$got" = "$4" ]; then
		ok "$1"
	else
		not_ok "$1" "$2: $3=${got:-missing}, want $4"
	fi
}
fact_is copy_from_peer b vchan_copy_from_peer ok
fact_is copy_to_peer b vchan_copy_to_peer ok
fact_is rx_data a vchan_rx_data ok
fact_is notify_a_to_b b vchan_notify_both_ways ok
fact_is notify_b_to_a a vchan_rx_notify ok
fact_is rtt_rounds b vchan_rtt_rounds 2000
fact_is echoed a vchan_echoed 2001
fact_is grant_ended b vchan_grant_ended -1
fact_is peer_gone b vchan_peer_gone -2
fact_is notify_after_peer_gone b vchan_notify_after_peer_gone ok
fact_is tcp_rounds b tcp_rtt_rounds 2000
fact_is exit_a a vchan_exit 0
fact_is exit_b b vchan_exit 0
note "notification round trip $(fact b vchan_rtt_us) us," \
     "grant copy $(fact b vchan_copy_mbps) MB/s" \
     "($(fact b vchan_copy_bytes) bytes in 1 s);" \
     "TCP over virtio-net: round trip $(fact b tcp_rtt_us) us," \
     "$(fact b tcp_mbps) MB/s"
echo "# PERSONA-BENCH vchan_rtt_us=$(fact b vchan_rtt_us)" \
     "vchan_copy_mbps=$(fact b vchan_copy_mbps)" \
     "tcp_rtt_us=$(fact b tcp_rtt_us) tcp_mbps=$(fact b tcp_mbps)"
if [ "$rc_a" = 0 ] && [ "$rc_b" = 0 ]; then
	ok both_shut_down
else
	not_ok both_shut_down "guest-boot.sh: A $rc_a, B $rc_b"
	tail -n 30 "$W"/a.log "$W"/b.log | sed 's/^/# /'
fi
[ "$FAIL" = 0 ]
