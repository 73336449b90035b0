#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo guest in Xen mode through libvirt: Debian 12's libvirt (9.0,
# libvirtd and virsh) defines and starts the domain of
# Documentation/libvirt/persona-xen.xml with the machine's QEMU 10, and the
# guest must show what it shows under scripts/guest-boot.sh xen (the same
# checks: scripts/lib-guest-facts.sh) and power itself off.  Runs inside
# the test host, like scripts/guest-check.sh:
#
#   scripts/guest-image.sh
#   scripts/testhost.sh --timeout 900 -- scripts/libvirt-check.sh
#
# The test host has no systemd and a read-only root, so the script sets
# libvirt up by hand: tmpfs copies of /etc/libvirt, /var/lib/libvirt,
# /var/log/libvirt and /var/cache/libvirt (bind-mounted over the
# originals), the libvirt-qemu user and group that libvirt's QEMU driver
# insists on existing (in copies of /etc/passwd and /etc/group), a
# qemu.conf that runs QEMU as root without relabelling, namespaces, seccomp
# sandbox or virtlogd (stdio_handler "file"), and libvirtd itself.  It
# refuses to run outside a test host ($TESTHOST).
#
# Checks: the module loads, libvirtd starts and accepts the machine's QEMU
# (its capabilities probed for the kvm domain type), the domain is defined
# and started (and is the one Documentation/guests.rst shows), QEMU runs
# with the Xen accelerator properties and the split irqchip, the guest's
# facts (hypervisor, clocksource, devices, event channels, grant tables,
# vCPUs, disk write, network round trip, poweroff), no unexpected
# unimplemented hypercall, libvirt's shut-off reason and the undefine.  Prints KTAP ("ok N libvirt.xen.hypervisor") and ends with
# "N passed, N failed"; the console, libvirt's logs and the facts are kept
# in $TESTHOST_OUT/NAME/ (or --out DIR).
#
# Usage: scripts/libvirt-check.sh [--module PATH] [--image DIR] [--name NAME]
#                                 [--start N] [--no-plan] [--timeout S]
#                                 [--out DIR]
set -euo pipefail
# "&" in a ${var//pattern/replacement} is literal here (bash 5.2).
shopt -u patsub_replacement 2>/dev/null || true

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

KO=src/kvm-persona.ko
IMAGE=.cache/guest
NAME=libvirt
START=1
PLAN=1
TIMEOUT=240
OUT=
usage()
{
	sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--module|--image|--name|--start|--timeout|--out)
		[ $# -ge 2 ] || usage
		case $1 in
		--module) KO=$2 ;;
		--image) IMAGE=$2 ;;
		--name) NAME=$2 ;;
		--start) START=$2 ;;
		--timeout) TIMEOUT=$2 ;;
		--out) OUT=$2 ;;
		esac
		shift 2
		;;
	--no-plan) PLAN=; shift ;;
	*) usage ;;
	esac
done
[[ $START =~ ^[1-9][0-9]*$ ]] || usage
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage
[[ $NAME =~ ^[a-z][a-z0-9_]*$ ]] || usage
case $IMAGE in /*) ;; *) IMAGE=$ROOT/$IMAGE ;; esac
OUT=${OUT:-${TESTHOST_OUT:-}}
[ -z "$OUT" ] || OUT=$OUT/$NAME

DOMAIN=persona-xen
TEMPLATE=$ROOT/Documentation/libvirt/persona-xen.xml
EMULATOR=$ROOT/scripts/libvirt-qemu.sh
SMP=2
VIRSH=(virsh -q -c qemu:///system)

N=$((START - 1))
PASS=0
FAIL=0
ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N $1"; }
not_ok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N $1${2:+ # $2}"; }
note() { echo "# $*"; }

# shellcheck source=scripts/lib-guest-facts.sh
. "$ROOT/scripts/lib-guest-facts.sh"

if [ -z "${TESTHOST:-}" ]; then
	echo "libvirt-check: runs inside the test host only (it mounts over /etc/libvirt and /etc/passwd):" >&2
	echo "  scripts/testhost.sh --timeout 900 -- scripts/libvirt-check.sh" >&2
	exit 2
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/libvirt-check.XXXXXX")
MOUNTED=()
LIBVIRTD_PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup()
{
	local m i
	if [ -n "$LIBVIRTD_PID" ]; then
		"${VIRSH[@]}" destroy "$DOMAIN" >/dev/null 2>&1 || true
		"${VIRSH[@]}" undefine "$DOMAIN" >/dev/null 2>&1 || true
		kill "$LIBVIRTD_PID" 2>/dev/null || true
		for i in $(seq 20); do
			kill -0 "$LIBVIRTD_PID" 2>/dev/null || break
			sleep 0.5
		done
	fi
	if [ -n "$OUT" ]; then
		mkdir -p "$OUT"
		cp -r /var/log/libvirt/. "$OUT"/ 2>/dev/null || true
		cp "$W"/*.xml "$W"/*.log "$W"/facts "$W"/console "$OUT"/ 2>/dev/null || true
	fi
	for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
		m=${MOUNTED[i]}
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$W"
	[ -z "$PLAN" ] || echo "1..$N"
	# Also after an early exit: the caller counts from this line.
	echo "$PASS passed, $FAIL failed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -z "$PLAN" ] || echo "TAP version 13"

# ------------------------------------------------------------- module

if grep -q '^kvm_persona ' /proc/modules; then
	ok "$NAME.module_loads"
elif msg=$(insmod "$KO" 2>&1); then
	ok "$NAME.module_loads"
else
	not_ok "$NAME.module_loads" "insmod $KO: $msg"
	exit 1
fi
for f in vmlinuz initrd.gz root.vhd; do
	if [ ! -e "$IMAGE/$f" ]; then
		not_ok "$NAME.image" "no $IMAGE/$f: run scripts/guest-image.sh first"
		exit 1
	fi
done
IMAGE_KVER=$(sed -n 's/^kernel *\([^:]*\):.*/\1/p' "$IMAGE/manifest" 2>/dev/null)

# ------------------------------------------------------------- libvirt

# A tmpfs copy of DIR mounted over it (the test host's root is a read-only
# share; its /tmp is a tmpfs).
writable()
{
	local dir=$1 copy
	[ -d "$dir" ] || { echo "no $dir (scripts/deps.sh creates it)"; return 1; }
	copy=$W/root$dir
	mkdir -p "$copy"
	cp -a "$dir"/. "$copy"/
	mount --bind "$copy" "$dir" || return 1
	MOUNTED+=("$dir")
}

# A copy of /etc/passwd or /etc/group with libvirt-qemu in it, mounted over
# the original.  libvirt's QEMU driver looks up the user and group it was
# built for (libvirt-qemu, which Debian's libvirt-daemon-system creates) as
# it starts, even when qemu.conf runs QEMU as root.
with_libvirt_qemu()
{
	local file=$1 line=$2 copy=$W/${1##*/}
	cp "$file" "$copy"
	grep -q '^libvirt-qemu:' "$copy" || echo "$line" >>"$copy"
	mount --bind "$copy" "$file" || return 1
	MOUNTED+=("$file")
}

setup_libvirt()
{
	local d
	for d in /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
		writable "$d" || return 1
	done
	with_libvirt_qemu /etc/passwd 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' || return 1
	with_libvirt_qemu /etc/group 'libvirt-qemu:x:64055:' || return 1
	# QEMU as root, files as they are: no relabelling, ownership changes,
	# mount namespace, seccomp sandbox (it would forbid guestfwd's
	# responder process), cgroups, or virtlogd (QEMU writes its log file
	# itself).
	cat >/etc/libvirt/qemu.conf <<-EOF
		user = "root"
		group = "root"
		dynamic_ownership = 0
		remember_owner = 0
		security_driver = "none"
		namespaces = [ ]
		seccomp_sandbox = 0
		cgroup_controllers = [ ]
		stdio_handler = "file"
	EOF
	cat >/etc/libvirt/libvirtd.conf <<-EOF
		log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
	EOF
}

if msg=$(setup_libvirt 2>&1); then
	ok "$NAME.setup"
else
	not_ok "$NAME.setup" "$(echo "$msg" | tail -n 1)"
	exit 1
fi

# libslirp links guestfwd's responder to QEMU over 127.0.0.1 (as in
# scripts/guest-boot.sh).
if [ $(($(cat /sys/class/net/lo/flags) & 1)) -eq 0 ]; then
	ip link set lo up 2>/dev/null || busybox ip link set lo up || true
fi

T=$(date +%s.%N)
took() { awk -v a="$T" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
libvirtd --daemon --pid-file "$W/libvirtd.pid" || true
started=
for _ in $(seq 60); do
	if [ -s "$W/libvirtd.pid" ] && "${VIRSH[@]}" uri >/dev/null 2>&1; then
		started=1
		break
	fi
	sleep 0.5
done
LIBVIRTD_PID=$(cat "$W/libvirtd.pid" 2>/dev/null || true)
if [ -n "$started" ]; then
	ok "$NAME.libvirtd_starts"
	note "libvirtd answers after $(took)s"
else
	not_ok "$NAME.libvirtd_starts" "$(grep -a ' error : ' /var/log/libvirt/libvirtd.log 2>/dev/null | tail -n 1)"
	exit 1
fi

# libvirt probes the emulator's capabilities (QMP) before it accepts a
# domain for it; the version it reports is the QEMU the domain runs.
T=$(date +%s.%N)
if caps=$("${VIRSH[@]}" domcapabilities --virttype kvm --emulatorbin "$EMULATOR" \
		--arch x86_64 --machine pc 2>&1) &&
   grep -q '<domain>kvm</domain>' <<<"$caps"; then
	ok "$NAME.qemu_capabilities"
	note "capabilities of $EMULATOR probed in $(took)s"
	note "libvirt $("${VIRSH[@]}" version --daemon 2>/dev/null | tr -s ' \n' ' ')"
	note "$(grep -o '<machine>[^<]*</machine>' <<<"$caps")"
else
	not_ok "$NAME.qemu_capabilities" "$(tail -n 1 <<<"$caps")"
fi

# ------------------------------------------------------------- domain

# QEMU's option syntax doubles commas; XML escapes five characters.
qesc() { printf '%s' "${1//,/,,}"; }
xesc()
{
	local s=${1//&/&amp;}
	s=${s//</&lt;}
	s=${s//>/&gt;}
	s=${s//\'/&apos;}
	printf '%s' "${s//\"/&quot;}"
}

CONSOLE=$W/console
QEMU_LOG=$W/qemu.log
HTTP_LOG=$W/http.log
DISK=$W/root.qcow2
: >"$HTTP_LOG"
# The guest writes to an overlay; root.vhd stays unchanged (what
# guest-boot.sh gets from snapshot=on, which would put its overlay in
# /var/tmp here: read-only).
qemu-img create -q -f qcow2 -F vpc -b "$IMAGE/root.vhd" "$DISK"
# The HTTP responder of scripts/guest-boot.sh at 10.0.2.100:80.
NETDEV="user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:/bin/bash"
NETDEV+=" '$(qesc "$ROOT/scripts/guest-boot.sh")' --respond '$(qesc "$HTTP_LOG")'"

# The template without its comment, which names the @...@ placeholders.
xml=$(<"$TEMPLATE")
xml="<domain${xml#*<domain}"
# Documentation/guests.rst shows the domain tested here, as it is.
shown=$(awk '/^\.\. code-block:: xml$/ { on = 1; next }
	on && /^[^ ]/ { exit }
	on { sub(/^    /, ""); print }' "$ROOT/Documentation/guests.rst" | sed '/./,$!d')
if [ "$shown" = "$xml" ]; then
	ok "$NAME.documented_domain"
else
	not_ok "$NAME.documented_domain" "Documentation/guests.rst shows another domain than ${TEMPLATE#"$ROOT"/}"
fi
xml=${xml//@EMULATOR@/$(xesc "$EMULATOR")}
xml=${xml//@KERNEL@/$(xesc "$IMAGE/vmlinuz")}
xml=${xml//@INITRD@/$(xesc "$IMAGE/initrd.gz")}
xml=${xml//@DISK@/$(xesc "$(qesc "$DISK")")}
xml=${xml//@CONSOLE@/$(xesc "$CONSOLE")}
xml=${xml//@QEMU_LOG@/$(xesc "$QEMU_LOG")}
xml=${xml//@NETDEV@/$(xesc "$NETDEV")}
printf '%s\n' "$xml" >"$W/$DOMAIN.xml"
left=$(grep -o '@[A-Z_]\+@' "$W/$DOMAIN.xml" | sort -u | tr '\n' ' ') || true

if [ -z "$left" ] && msg=$("${VIRSH[@]}" define "$W/$DOMAIN.xml" 2>&1); then
	ok "$NAME.define"
else
	not_ok "$NAME.define" "${left:+unfilled: $left}$(echo "$msg" | tail -n 1)"
	exit 1
fi

T0=$(date +%s.%N)
since() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
if msg=$("${VIRSH[@]}" start "$DOMAIN" 2>&1); then
	ok "$NAME.start"
	note "started in $(since)s"
else
	not_ok "$NAME.start" "$(echo "$msg" | tail -n 1)"
	tail -n 5 "/var/log/libvirt/qemu/$DOMAIN.log" 2>/dev/null | sed 's/^/# /'
	exit 1
fi

# What QEMU really runs with: libvirt's -accel kvm with the Xen version
# added by the emulator script, and the split irqchip from <ioapic>.
pid=$(cat "/run/libvirt/qemu/$DOMAIN.pid" 2>/dev/null || true)
args=$(tr '\0' '\n' <"/proc/${pid:-0}/cmdline" 2>/dev/null || true)
printf '%s\n' "$args" >"$W/qemu-args.log"
accel=$(grep -A1 -x -- -accel <<<"$args" | tail -n 1) || true
check "$NAME.xen_accel" "$accel" kvm,xen-version=0x4000a
if grep -q 'kernel_irqchip=split' <<<"$args"; then
	ok "$NAME.split_irqchip"
else
	not_ok "$NAME.split_irqchip" "$(grep -A1 -x -- -machine <<<"$args" | tail -n 1)"
fi

# The guest runs its checks and powers off; libvirt then stops QEMU
# (on_poweroff destroy).  Poll the console and libvirt's state.
boot_s=
done_s=
state=
while :; do
	[ -n "$boot_s" ] || ! grep -aq '^PERSONA-BEGIN' "$CONSOLE" 2>/dev/null || boot_s=$(since)
	[ -n "$done_s" ] || ! grep -aq '^PERSONA-DONE' "$CONSOLE" 2>/dev/null || done_s=$(since)
	state=$("${VIRSH[@]}" domstate "$DOMAIN" --reason 2>/dev/null || true)
	case $state in
	"shut off"*|crashed*) break ;;
	esac
	if awk -v t="$(since)" -v max="$TIMEOUT" 'BEGIN { exit !(t >= max) }'; then
		state="timeout ($state)"
		"${VIRSH[@]}" destroy "$DOMAIN" >/dev/null 2>&1 || true
		break
	fi
	sleep 0.5
done
total_s=$(since)
# Lines the last look missed: the guest's last ones and its poweroff can
# come within one poll.
[ -n "$boot_s" ] || ! grep -aq '^PERSONA-BEGIN' "$CONSOLE" 2>/dev/null || boot_s=$total_s
[ -n "$done_s" ] || ! grep -aq '^PERSONA-DONE' "$CONSOLE" 2>/dev/null || done_s=$total_s
note "domain: $state after ${total_s}s; userspace after ${boot_s:-?}s, checks done after ${done_s:-?}s"

# How it ended, in guest-boot.sh's terms: the guest's poweroff is libvirt's
# "shutdown" reason (QEMU's SHUTDOWN event, then libvirt stopping QEMU)
# with the kernel's own "Power down" on the console.
case $state in
timeout*) shutdown=timeout ;;
*)
	if grep -aq 'Kernel panic' "$CONSOLE" 2>/dev/null; then
		shutdown=guest-panic
	elif [ "$state" = "shut off (shutdown)" ] &&
	     grep -aq 'reboot: Power down' "$CONSOLE" 2>/dev/null; then
		shutdown=guest-poweroff
	elif grep -aq 'reboot: Restarting system' "$CONSOLE" 2>/dev/null; then
		shutdown=guest-reboot
	else
		shutdown="libvirt-$(tr ' ()' '-' <<<"$state" | tr -s '-' | sed 's/-$//')"
	fi
	;;
esac
http_seen=no
[ ! -s "$HTTP_LOG" ] || http_seen="yes ($(tr '\n' ' ' <"$HTTP_LOG" | sed 's/ $//'))"
{
	sed -n 's/^PERSONA-FACT //p' "$CONSOLE" 2>/dev/null | tr -d '\r'
	echo "host_mode=xen"
	echo "host_boot_s=${boot_s:-none}"
	echo "host_done_s=${done_s:-none}"
	echo "host_total_s=$total_s"
	echo "host_shutdown=$shutdown"
	echo "host_libvirt_state=$state"
	echo "host_http_seen=$http_seen"
} >"$W/facts"

facts_check_boot "$NAME" xen "$W/facts" "$IMAGE_KVER" "$SMP"
facts_check_unimp "$NAME" "$QEMU_LOG"
check "$NAME.shutoff_reason" "$state" "shut off (shutdown)"
if grep -aq '^PERSONA-WARN ' "$CONSOLE" 2>/dev/null; then
	note "guest kernel warnings and errors:"
	sed -n 's/^PERSONA-WARN /#   /p' "$CONSOLE"
fi
# QEMU 10.0.2 crashes on its way out whenever a xen-net-device exists
# (Documentation/guests.rst); libvirt stops QEMU with SIGTERM after the
# guest's poweroff, so it shows here, after the guest is done.
segv=$(dmesg | grep -a 'qemu-system-x86.*segfault' | tail -n 1) || true
[ -z "$segv" ] || note "QEMU crashed while exiting after the poweroff (known, QEMU's): $segv"

if msg=$("${VIRSH[@]}" undefine "$DOMAIN" 2>&1); then
	ok "$NAME.undefine"
else
	not_ok "$NAME.undefine" "$(echo "$msg" | tail -n 1)"
fi
[ "$FAIL" -eq 0 ]
