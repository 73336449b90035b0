#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the demo guest (scripts/guest-image.sh) in one of its three
# personalities with the machine's unmodified QEMU, and report what the
# guest found.  Runs inside the test host (scripts/testhost.sh), or on any
# KVM host; Xen mode needs kvm-persona loaded (this script loads nothing).
#
# Usage: scripts/guest-boot.sh MODE [options]
#   MODE              xen     QEMU's Xen HVM mode, xen-disk + xen-net-device
#                     hyperv  Hyper-V enlightenments, virtio disk + NIC
#                     kvm     plain KVM, virtio disk + NIC
#   --smp N           guest vCPUs (default 2)
#   --mem MB          guest memory (default 512)
#   --timeout S       stop the guest after S seconds (default 240)
#   --image DIR       the image (default .cache/guest of this tree)
#   --out DIR         also write MODE.facts, MODE.console and QEMU's logs there
#   --shutdown HOW    how the guest stops: poweroff (default, ACPI S5),
#                     reboot (a reset, which -no-reboot turns into an
#                     exit) or crash (a panic; in Xen mode reported with
#                     SCHEDOP_shutdown, see Documentation/guests.rst)
#   --append ARGS     more guest kernel arguments (experiments)
#   --qemu-arg ARG    one more QEMU argument (repeatable; experiments)
#   --console-in FILE what the guest's console reads (a FIFO the caller
#                     writes to; default nothing: /dev/null)
#   --raw-exit        let QEMU exit by itself when the guest shuts down,
#                     without the work-around for QEMU 10.0's crash on
#                     exit with a xen-net-device (see below)
#   --dmesg           have the guest print its whole kernel log too (as
#                     PERSONA-DMESG lines, kept in --out's MODE.console)
#   --brief           the live console and a one-line verdict, without
#                     repeating the guest's facts
#   --quiet           no live console, only the report
#
# When the guest reports a soft lockup, or is still running 20 seconds
# before the timeout, the script snapshots what the host sees (MODE.hang in --out): each vCPU's registers and LAPIC from
# QMP, the kernel stacks of QEMU's threads, and KVM's per-vCPU exit
# counters twice a second apart (which vCPUs still run, and how).
#
# Output: the guest console as it runs (each line prefixed with the mode
# and the seconds since QEMU started), then every "PERSONA-FACT key=value"
# line the guest printed, and host-side facts as "PERSONA-HOST key=value":
# boot_s (QEMU start to the guest's first userspace line), done_s (to its
# last check), total_s, shutdown (guest-poweroff, guest-reboot,
# guest-crash, guest-panic, guest-reset, timeout, qemu-exit),
# qemu_reason (from QEMU's SHUTDOWN or GUEST_PANICKED event), qemu_rc,
# qemu_crashed (yes if QEMU died of a signal, even after a clean guest
# shutdown), qemu_unimp (hypercalls QEMU logged as unimplemented) and
# http_seen (the guest's request reached the host).
#
# QEMU 10.0.2 segfaults while exiting whenever a xen-net-device exists
# (its exit notifier deletes the NIC again after net_cleanup() did; the
# same with upstream KVM's own Xen support, and whatever way the guest
# shuts down).  So QEMU runs with -action shutdown=pause and a QMP
# monitor: when the guest shuts down, QEMU pauses, this script takes the
# reason from QMP's SHUTDOWN event, unplugs the xen-net-device and quits.
# --raw-exit shows the crash.
#
# Exit status: 0 when the guest ran its checks to the end and then shut
# itself down as asked (QEMU crashing after that is reported, not fatal),
# 1 otherwise, 2 for bad usage.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/scripts/$(basename "$0")
QEMU=${QEMU:-qemu-system-x86_64}

# Internal: QEMU's guestfwd runs this for each TCP connection the guest
# makes to 10.0.2.100:80, with the connection on stdin and stdout.  The
# request line ("GET /persona/TOKEN HTTP/1.x") goes to the log named by
# $2, the reply echoes the token.
if [ "${1:-}" = --respond ]; then
	IFS=$' \r' read -r -t 30 _ path _ || true
	echo "$path" >>"$2"
	# Read the headers up to the blank line before answering: closing
	# the connection on unread data makes slirp reset it, and the guest
	# would never see the reply.
	while IFS=$'\r' read -r -t 10 header && [ -n "$header" ]; do :; done
	body="persona-echo ${path##*/}"
	printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s\n' \
		$((${#body} + 1)) "$body"
	exit 0
fi

usage()
{
	sed -n '/^# Usage:/,/^#   --quiet/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 1 ] || usage
MODE=$1
shift
case $MODE in
xen|hyperv|kvm) ;;
-h|--help) usage ;;
*) echo "guest-boot: unknown mode '$MODE' (xen, hyperv or kvm)" >&2; usage ;;
esac

SMP=2
MEM=512
TIMEOUT=240
IMAGE=$ROOT/.cache/guest
OUTDIR=
SHUTDOWN=poweroff
MORE_APPEND=
CONSOLE_IN=/dev/null
QUIET=
BRIEF=
DMESG=
RAW_EXIT=
EXTRA=()
while [ $# -gt 0 ]; do
	case $1 in
	--smp|--mem|--timeout|--image|--out|--shutdown|--append|--qemu-arg|--console-in)
		[ $# -ge 2 ] || usage
		case $1 in
		--smp) SMP=$2 ;;
		--mem) MEM=$2 ;;
		--timeout) TIMEOUT=$2 ;;
		--image) IMAGE=$2 ;;
		--out) OUTDIR=$2 ;;
		--shutdown) SHUTDOWN=$2 ;;
		--append) MORE_APPEND=$2 ;;
		--qemu-arg) EXTRA+=("$2") ;;
		--console-in) CONSOLE_IN=$2 ;;
		esac
		shift 2
		;;
	--quiet) QUIET=1; shift ;;
	--brief) BRIEF=1; shift ;;
	--dmesg) DMESG=1; shift ;;
	--raw-exit) RAW_EXIT=1; shift ;;
	*) usage ;;
	esac
done
for n in "$SMP" "$MEM" "$TIMEOUT"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "guest-boot: not a number: $n" >&2; usage; }
done
case $SHUTDOWN in
poweroff|reboot|crash) ;;
*) usage ;;
esac

say() { echo "guest-boot: $MODE: $*"; }
die() { say "error: $*" >&2; exit 1; }

for f in vmlinuz initrd.gz root.vhd; do
	[ -e "$IMAGE/$f" ] || die "$IMAGE/$f missing: run scripts/guest-image.sh first"
done
[ -c /dev/kvm ] || die "no /dev/kvm"
command -v "$QEMU" >/dev/null || die "$QEMU not found"
# A kernel's own Xen support shows in its config (the test host names
# the booted kernel's directory in $TESTHOST_KERNEL_DIR).
if [ "$MODE" = xen ] && ! grep -q '^kvm_persona ' /proc/modules &&
   ! grep -qsx 'CONFIG_KVM_XEN=y' "/boot/config-$(uname -r)" \
	"${TESTHOST_KERNEL_DIR:-/nonexistent}/config"; then
	say "warning: kvm_persona is not loaded and this kernel's KVM has no Xen support"
fi

# libslirp links guestfwd's program to QEMU through a TCP connection over
# 127.0.0.1, so the loopback interface must be up; the test host's init
# leaves it down.  (IFF_UP is bit 0 of the flags.)
if [ -r /sys/class/net/lo/flags ] && [ $(($(cat /sys/class/net/lo/flags) & 1)) -eq 0 ]; then
	if command -v ip >/dev/null; then
		ip link set lo up
	else
		busybox ip link set lo up
	fi || say "warning: cannot bring up lo; the HTTP check will fail"
fi

# Scratch space on a writable file system: the test host's root is a
# read-only share, its /tmp a tmpfs.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/guest-boot.$MODE.XXXXXX")
qemu_pid=
watch_pid=
mon_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup()
{
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null || true
	[ -z "$mon_pid" ] || kill "$mon_pid" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# QEMU's option parser wants commas in values doubled.
qesc() { printf '%s' "${1//,/,,}"; }

# The guest's kernel command line is the same in every mode: the root is
# found by label, whatever the disk is called.
APPEND="console=ttyS0 root=LABEL=persona-root panic=-1 quiet log_buf_len=1M"
APPEND+=" persona.shutdown=$SHUTDOWN"
# A panic of a Xen guest goes straight to SCHEDOP_shutdown(crash).
[ "$SHUTDOWN" != crash ] || APPEND+=" xen_legacy_crash"
[ -z "$DMESG" ] || APPEND+=" persona.dmesg=1"
APPEND+=${MORE_APPEND:+ $MORE_APPEND}

# snapshot=on: the guest writes to a throwaway overlay in $TMPDIR, so the
# one root.vhd serves every mode unchanged (and may sit on a read-only
# file system).  Note that QEMU replaces a TMPDIR of exactly /tmp with
# /var/tmp (read-only in the test host); $WORK is below /tmp instead.
DRIVE="file=$(qesc "$IMAGE/root.vhd"),format=vpc,if=none,id=d0,snapshot=on"
# User-mode networking, restricted: nothing leaves QEMU except what
# guestfwd hands to the responder above, which the guest reaches at
# 10.0.2.100:80.  QEMU runs the command itself (no shell).
HTTP_LOG=$WORK/http.log
: >"$HTTP_LOG"
NETDEV="user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:/bin/bash"
NETDEV+=" '$(qesc "$SELF")' --respond '$(qesc "$HTTP_LOG")'"

# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
ARGS=(-M pc -m "$MEM" -smp "$SMP" -display none -no-reboot
	-serial stdio -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.gz"
	-append "$APPEND" -drive "$DRIVE" -netdev "$NETDEV"
	# Hypercalls QEMU does not implement are "unimp", bad guest
	# requests "guest_errors": both go to a log reported at the end.
	-d unimp,guest_errors -D "$WORK/qemu.log")
case $MODE in
xen)
	# Xen 4.10's ABI, event channels delivered through the split
	# irqchip, Xen's PV disk and NIC backends.
	# shellcheck disable=SC2054
	ARGS+=(-accel kvm,xen-version=0x4000a,kernel-irqchip=split -cpu host
		-device xen-disk,drive=d0,vdev=xvda
		-device xen-net-device,netdev=n0,id=xnet0)
	;;
hyperv)
	# kvm=off hides KVM's signature: QEMU would put it at 0x40000100,
	# above Hyper-V's, and Linux picks the highest base.  "Microsoft Hv"
	# is also QEMU's default vendor id; it is spelled out because Linux
	# accepts no other.  One argument, so the blank needs no quoting.
	# hv-stimer-direct: the synthetic timers interrupt through a plain
	# vector, so Linux uses them as its clockevent without VMBus.
	# shellcheck disable=SC2054
	ARGS+=(-accel kvm
		-cpu "host,kvm=off,hv-relaxed,hv-vapic,hv-time,hv-vpindex,hv-runtime,hv-synic,hv-stimer,hv-stimer-direct,hv-frequencies,hv-vendor-id=Microsoft Hv"
		-device virtio-blk-pci,drive=d0 -device virtio-net-pci,netdev=n0)
	;;
kvm)
	# shellcheck disable=SC2054
	ARGS+=(-accel kvm -cpu host
		-device virtio-blk-pci,drive=d0 -device virtio-net-pci,netdev=n0)
	;;
esac
# QMP on a pair of FIFOs ($QMP.in, $QMP.out), and what QEMU does when
# the guest shuts down: see the note on QEMU's crash at the top.
QMP=$WORK/qmp
if [ -n "$RAW_EXIT" ]; then
	ARGS+=(-monitor none)
else
	mkfifo "$QMP.in" "$QMP.out"
	# shellcheck disable=SC2054
	ARGS+=(-monitor none -chardev "pipe,id=qmp,path=$(qesc "$QMP")"
		-mon chardev=qmp,mode=control -action shutdown=pause)
fi
ARGS+=("${EXTRA[@]}")

say "$QEMU ${ARGS[*]}"

# The L1 kernel log so far, to show what this boot adds to it.
klog_before=$(dmesg 2>/dev/null | wc -l || echo 0)
# Where the guest triple-faults, if it does (the registers are gone by
# the time QEMU sees the reset): scripts/l2-shutdowns.sh.
if [ "$(id -u)" = 0 ]; then
	"$ROOT/scripts/l2-shutdowns.sh" start
	"$ROOT/scripts/l2-shutdowns.sh" show >/dev/null
fi

CONSOLE=$WORK/console.log
T0=$(date +%s.%N)
since() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Wait up to $2 half-seconds for QMP to have said $1 (an extended regex).
# shellcheck disable=SC2317 # run in the background below
qmp_wait()
{
	local n=0
	until grep -aqE "$1" "$WORK/qmp.log"; do
		kill -0 "$qemu_pid" 2>/dev/null || return 1
		n=$((n + 1))
		[ "$n" -le "$2" ] || return 1
		sleep 0.5
	done
}

# QEMU announces the guest's shutdown with a SHUTDOWN event whose reason
# says who asked (guest-shutdown: ACPI or Xen poweroff; guest-reset: a
# reset or triple fault, which -no-reboot turns into a shutdown), or a
# panic reported to the hypervisor with GUEST_PANICKED, then pauses.  Record the reason, unplug the
# xen-net-device (DEVICE_DELETED confirms it) and quit.
# shellcheck disable=SC2317 # run in the background below
watch_shutdown()
{
	exec 7>"$QMP.in"
	echo '{"execute": "qmp_capabilities"}' >&7
	qmp_wait '"event": *"(SHUTDOWN|GUEST_PANICKED)"' $((TIMEOUT * 2)) || return 0
	# A panic with the shutdown action "pause" stops the VM with
	# GUEST_PANICKED alone.
	if grep -aqE '"event": *"GUEST_PANICKED"' "$WORK/qmp.log"; then
		echo guest-panic >"$WORK/qemu-reason"
	else
		grep -aE '"event": *"SHUTDOWN"' "$WORK/qmp.log" | head -n 1 |
			sed -n 's/.*"reason": *"\([^"]*\)".*/\1/p' >"$WORK/qemu-reason"
	fi
	echo "$(since)s: stopped, reason $(cat "$WORK/qemu-reason")" >>"$WORK/watch.log"
	if [ "$MODE" = xen ]; then
		echo '{"execute": "device_del", "arguments": {"id": "xnet0"}}' >&7
		if qmp_wait '"event": *"DEVICE_DELETED".*"xnet0"' 20; then
			echo "$(since)s: xen-net-device unplugged" >>"$WORK/watch.log"
		else
			echo "$(since)s: xen-net-device still there" >>"$WORK/watch.log"
		fi
	fi
	echo "$(since)s: quit" >>"$WORK/watch.log"
	echo '{"execute": "quit"}' >&7
	exec 7>&-
}

# A soft lockup in the guest: record where every vCPU is, from both
# sides, while it is stuck.  Best effort; never fails the boot.
# shellcheck disable=SC2317 # run in the background below
hang_dump()
{
	local out=$WORK/hang t d

	[ ! -e "$out" ] || return 0
	# Tracing someone turned on for the experiment: freeze what led here.
	t=/sys/kernel/tracing
	if [ "$(cat "$t/tracing_on" 2>/dev/null)" = 1 ]; then
		echo 0 >"$t/tracing_on"
		cat "$t/trace" >"$WORK/hang.trace" 2>/dev/null || true
	fi
	{
		echo "# $(since)s: $1"
		for t in /proc/"$qemu_pid"/task/* /proc/"$qemu_pid"/task/*/task/*; do
			[ -r "$t/stack" ] || continue
			echo "## thread $(basename "$t") $(cat "$t/comm" 2>/dev/null)"
			cat "$t/stack" 2>/dev/null
		done
		for t in 1 2; do
			for d in /sys/kernel/debug/kvm/*/vcpu*; do
				[ -d "$d" ] || continue
				echo "## $t $d: $(cd "$d" && grep -H . exits halt_exits \
					irq_exits irq_injections irq_window_exits \
					nmi_injections hypercalls signal_exits \
					halt_wakeup 2>/dev/null | tr '\n' ' ')"
			done
			sleep 1
		done
	} >"$out" 2>&1
	[ -z "$RAW_EXIT" ] || return 0
	{
		printf '{"execute": "human-monitor-command", "arguments": {"command-line": "info registers -a"}}\n'
		printf '{"execute": "human-monitor-command", "arguments": {"command-line": "info lapic 0"}}\n'
		printf '{"execute": "human-monitor-command", "arguments": {"command-line": "info lapic 1"}}\n'
	} >"$QMP.in"
}

# QEMU in the background writes the console to a FIFO that the loop
# below reads line by line, time-stamping the lines that matter.
mkfifo "$WORK/console.fifo"
TMPDIR=$WORK timeout --kill-after=10 "$TIMEOUT" "$QEMU" "${ARGS[@]}" \
	<"$CONSOLE_IN" >"$WORK/console.fifo" 2>&1 &
qemu_pid=$!
if [ -z "$RAW_EXIT" ]; then
	: >"$WORK/qmp.log"
	cat "$QMP.out" >"$WORK/qmp.log" &
	mon_pid=$!
	watch_shutdown &
	watch_pid=$!
fi
# (Its sleep must not hold our output open after we are done: callers
# read it to the end.)
stall_pid=
if [ "$TIMEOUT" -gt 40 ]; then
	{ sleep $((TIMEOUT - 20)) && hang_dump "still running at $((TIMEOUT - 20))s"; } \
		</dev/null >/dev/null 2>&1 &
	stall_pid=$!
fi

boot_s=
done_s=
hung=
# (A guest that resets before its first line leaves an empty console.)
: >"$CONSOLE"
while IFS= read -r line; do
	line=${line%$'\r'}
	printf '%s\n' "$line" >>"$CONSOLE"
	case $line in
	PERSONA-BEGIN*) boot_s=$(since) ;;
	PERSONA-DONE*) done_s=$(since) ;;
	*"BUG: soft lockup"*|*"rcu: INFO: rcu_preempt detected stall"*|*"blocked for more than"*)
		[ -n "$hung" ] || {
			hung=1
			hang_dump "guest stall: $line" </dev/null >/dev/null 2>&1 &
		}
		;;
	esac
	case $line in
	PERSONA-DMESG*) continue ;;
	esac
	[ -n "$QUIET" ] || printf '  %-6s %6ss | %s\n' "$MODE" "$(since)" "$line"
done <"$WORK/console.fifo"

qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
if [ -n "$stall_pid" ]; then
	pkill -P "$stall_pid" 2>/dev/null || true
	kill "$stall_pid" 2>/dev/null || true
	wait "$stall_pid" 2>/dev/null || true
fi
if [ -n "$watch_pid" ]; then
	kill "$watch_pid" 2>/dev/null || true
	wait "$watch_pid" 2>/dev/null || true
	watch_pid=
	# QEMU has gone: the monitor's reader sees the end of its FIFO.
	wait "$mon_pid" 2>/dev/null || true
	mon_pid=
fi
total_s=$(since)
# Why QEMU says the guest stopped (empty with --raw-exit, or when QEMU
# stopped for another reason).
qemu_reason=$(cat "$WORK/qemu-reason" 2>/dev/null || true)

# Why it ended: QEMU's SHUTDOWN reason, with the guest kernel's own last
# words to tell a requested reboot or crash from an accident.  Not QEMU's
# exit status: QEMU 10 may crash while tearing down after a clean guest
# shutdown.  Without QMP (--raw-exit) the console decides alone.
panicked=
! grep -q 'Kernel panic' "$CONSOLE" || panicked=1
restarted=
! grep -q 'reboot: Restarting system' "$CONSOLE" || restarted=1
powered=
! grep -q 'reboot: Power down' "$CONSOLE" || powered=1
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	shutdown=timeout
elif [ -n "$panicked" ] || [ "$qemu_reason" = guest-panic ]; then
	# Asked for (--shutdown crash) once the checks were done, or not.
	if [ "$SHUTDOWN" = crash ] && [ -n "$done_s" ]; then
		shutdown=guest-crash
	else
		shutdown=guest-panic
	fi
elif [ "$qemu_reason" = guest-shutdown ] || { [ -z "$qemu_reason" ] && [ -n "$powered" ]; }; then
	shutdown=guest-poweroff
elif [ -n "$restarted" ]; then
	shutdown=guest-reboot
elif [ "$qemu_reason" = guest-reset ]; then
	# A reset the kernel did not announce: a triple fault, say.
	shutdown=guest-reset
elif [ -n "$qemu_reason" ]; then
	shutdown=qemu-$qemu_reason
else
	shutdown=qemu-exit
fi
qemu_crashed=no
if [ "$qemu_rc" -gt 128 ] && [ "$shutdown" != timeout ]; then
	qemu_crashed="yes (signal $((qemu_rc - 128)), $(kill -l $((qemu_rc - 128)) 2>/dev/null || echo '?'))"
fi

http_seen=no
if [ -s "$HTTP_LOG" ]; then
	http_seen="yes ($(tr '\n' ' ' <"$HTTP_LOG" | sed 's/ $//'))"
fi
qemu_unimp=$(grep -c 'Unimplemented' "$WORK/qemu.log" 2>/dev/null || true)
l2_shutdown=
[ "$(id -u)" != 0 ] ||
	l2_shutdown=$("$ROOT/scripts/l2-shutdowns.sh" show | head -n 4 | tr '\n' ';')

# ------------------------------------------------------------ report

FACTS=$WORK/facts
{
	sed -n 's/^PERSONA-FACT //p' "$CONSOLE"
	echo "host_mode=$MODE"
	echo "host_boot_s=${boot_s:-none}"
	echo "host_done_s=${done_s:-none}"
	echo "host_total_s=$total_s"
	echo "host_shutdown=$shutdown"
	echo "host_qemu_rc=$qemu_rc"
	echo "host_qemu_crashed=$qemu_crashed"
	echo "host_qemu_unimp=${qemu_unimp:-0}"
	echo "host_http_seen=$http_seen"
	echo "host_qemu_reason=${qemu_reason:-none}"
	echo "host_l2_shutdown=${l2_shutdown:-none}"
} >"$FACTS"

if [ -z "$BRIEF" ]; then
	echo
	say "what the guest reported:"
	sed -n 's/^PERSONA-FACT /  PERSONA-FACT /p' "$CONSOLE"
fi
if [ -z "$BRIEF" ] && grep -q '^PERSONA-WARN ' "$CONSOLE"; then
	say "guest kernel warnings and errors:"
	sed -n 's/^PERSONA-WARN /  /p' "$CONSOLE"
fi
if [ -s "$WORK/qemu.log" ]; then
	say "QEMU's log (unimplemented features, guest errors):"
	sort "$WORK/qemu.log" | uniq -c | sort -rn | head -n 30 | sed 's/^/  /'
fi
klog_new=$(dmesg 2>/dev/null | tail -n +$((klog_before + 1)) || true)
if [ -n "$klog_new" ]; then
	say "the host kernel said meanwhile:"
	printf '%s\n' "$klog_new" | tail -n 40 | sed 's/^/  /'
fi
if [ -n "$l2_shutdown" ]; then
	say "the guest triple-faulted (L1's kvm_exit tracepoint):"
	printf '%s\n' "$l2_shutdown" | tr ';' '\n' | sed '/^$/d; s/^/  /'
fi
if [ -z "$BRIEF" ]; then
	say "host side:"
	sed -n 's/^host_\(.*\)/  PERSONA-HOST \1/p' "$FACTS"
fi

if [ -n "$OUTDIR" ]; then
	mkdir -p "$OUTDIR"
	cp "$FACTS" "$OUTDIR/$MODE.facts"
	cp "$CONSOLE" "$OUTDIR/$MODE.console"
	[ ! -s "$WORK/qemu.log" ] || cp "$WORK/qemu.log" "$OUTDIR/$MODE.qemu.log"
	[ ! -s "$WORK/qmp.log" ] || cp "$WORK/qmp.log" "$OUTDIR/$MODE.qmp.log"
	[ ! -s "$WORK/watch.log" ] || cp "$WORK/watch.log" "$OUTDIR/$MODE.watch.log"
	[ ! -s "$WORK/hang" ] || cp "$WORK/hang" "$OUTDIR/$MODE.hang"
	[ ! -s "$WORK/hang.trace" ] || cp "$WORK/hang.trace" "$OUTDIR/$MODE.hang.trace"
fi

# Success: the guest got through its checks, then stopped as asked.
ok=
case $shutdown in
guest-poweroff|guest-reboot|guest-crash)
	[ -z "$done_s" ] || [ "$shutdown" != "guest-$SHUTDOWN" ] || ok=1
	;;
esac
if [ -n "$ok" ]; then
	msg="guest shut itself down ($shutdown)"
elif [ -z "$done_s" ]; then
	msg="FAILED: the guest did not finish its checks; $shutdown"
else
	msg="FAILED: $shutdown"
fi
case $qemu_crashed in
yes*) msg+="; QEMU then crashed: $qemu_crashed, exit status $qemu_rc" ;;
esac
say "boot ${boot_s:-?}s to userspace, ${total_s}s in all; $msg"
[ -n "$ok" ]
