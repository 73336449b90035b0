#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the demo guest: one image that boots unchanged as a Xen HVM guest
# (QEMU's Xen mode on kvm-persona), as a Hyper-V guest and as a KVM guest.
# scripts/guest-boot.sh boots it; Documentation/guests.rst describes it.
#
# Usage: scripts/guest-image.sh [--kernel-dir DIR] [--busybox PATH] [--out DIR]
#   DIR   an extracted Debian kernel package (DIR/vmlinuz, DIR/modules/);
#         default: $TEST_KERNEL from .cache/env.sh (scripts/deps.sh)
#   PATH  the static busybox of the kernel's architecture; default: the
#         machine's /bin/busybox (busybox-static).  The 32-bit guest uses
#         the i386 package's (scripts/i386-deps.sh).
#   OUT   default: .cache/guest
#
# Everything comes from Debian's archive; nothing is compiled:
#   vmlinuz      Debian's linux-image-$KVER kernel, byte for byte
#   initrd.gz    busybox-static and that package's own modules for the
#                root disk and NIC of all three modes (Xen front ends,
#                virtio, ext4); its /init finds the disk labelled
#                persona-root, whatever it is called, and switch_roots
#   root.vhd     an ext4 file system made with "mkfs.ext4 -d" (no mount,
#                no loop device), converted to VHD with "qemu-img convert
#                -O vpc": the same file serves all three modes
#   manifest     where each part came from, with checksums
#
# The one exception, in x86-64 images: /bin/persona-vchan, built here
# static from selftests/persona_vchan.c, which the guest runs for the
# two-guest exchange (persona.vchan=1 on its command line).
#
# Prints OUT on stdout (progress goes to stderr).  Cached: rebuilt only
# when this script, busybox, e2fsprogs, qemu-img or the kernel change.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
SELF=$ROOT/scripts/$(basename "$0")
LABEL=persona-root

log() { echo "guest-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage()
{
	sed -n '/^# Usage:/,/^#   OUT/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

KDIR_IMG=
OUT=
BUSYBOX=/bin/busybox
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-dir|--out|--busybox)
		[ $# -ge 2 ] || usage
		case $1 in
		--out) OUT=$2 ;;
		--busybox) BUSYBOX=$2 ;;
		*) KDIR_IMG=$2 ;;
		esac
		shift 2
		;;
	-h|--help) usage ;;
	*) usage ;;
	esac
done

if [ -z "$KDIR_IMG" ]; then
	[ -e "$CACHE/env.sh" ] || "$ROOT/scripts/deps.sh" >&2
	# shellcheck disable=SC1091
	. "$CACHE/env.sh"
	KDIR_IMG=$TEST_KERNEL
fi
KDIR_IMG=$(cd "$KDIR_IMG" && pwd) || die "no kernel directory"
MODDIR=$KDIR_IMG/modules
[ -e "$KDIR_IMG/vmlinuz" ] || die "$KDIR_IMG/vmlinuz: missing (run scripts/deps.sh)"
[ -d "$MODDIR/kernel" ] || die "$MODDIR/kernel: missing"
OUT=${OUT:-$CACHE/guest}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"
# The guest has no libc: only a static busybox runs there.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; install busybox-static"
fi
# Its applet list, for the links.  An i386 busybox runs on an x86-64
# build machine through the kernel's IA32 emulation (Debian's has it).
APPLETS=$("$BUSYBOX" --list 2>/dev/null) ||
	die "cannot run $BUSYBOX here (a 32-bit one needs IA32 emulation)"
BUSYBOX_VERSION=$("$BUSYBOX" 2>/dev/null | head -n 1 || true)
for tool in mkfs.ext4 qemu-img cpio gzip modinfo; do
	command -v "$tool" >/dev/null || die "$tool missing (run scripts/deps.sh)"
done

# The release string, from a module of the package (deps.sh keeps the
# package's lib/modules/$KVER tree as DIR/modules, without the name).
KVER=$(modinfo -F vermagic "$(find "$MODDIR/kernel/fs/ext4" -name 'ext4.ko*' | head -n1)" |
	cut -d' ' -f1)
[ -n "$KVER" ] || die "cannot tell the kernel release"

# The one program of ours in the image: the guest side of the two-guest
# exchange, built static for x86-64 guests (selftests/persona_vchan.c).
VCHAN_SRC=$ROOT/selftests/persona_vchan.c

# Inputs of the image.  The module tree is represented by its
# modules.order and the vmlinuz: both change with the package.
stamp()
{
	sha256sum "$SELF" "$ROOT/scripts/lib-modules.sh" "$BUSYBOX" "$KDIR_IMG/vmlinuz" \
		"$VCHAN_SRC" | cut -d' ' -f1
	echo "$KVER $KDIR_IMG"
	stat -c '%n %s %Y' "$MODDIR/modules.order" 2>/dev/null || true
	dpkg-query -W -f='${Package} ${Version}\n' e2fsprogs qemu-utils \
		busybox-static 2>/dev/null || true
}

# Several runs may start at once: one builds, the others wait and reuse.
exec 9>"$OUT/.lock"
flock 9
if [ -e "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$(stamp)" ] &&
   [ -e "$OUT/root.vhd" ] && [ -e "$OUT/initrd.gz" ] && [ -e "$OUT/vmlinuz" ]; then
	echo "$OUT"
	exit 0
fi
log "building the guest image for $KVER in $OUT"
rm -f "$OUT/stamp"

WORK=$(mktemp -d "$CACHE/guest-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Install busybox and a link per applet into a tree.
install_busybox()
{
	local dir=$1 applet
	mkdir -p "$dir/bin"
	cp "$BUSYBOX" "$dir/bin/busybox"
	for applet in $APPLETS; do
		[ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
	done
	# Scripts and habits expect /sbin and /usr/bin too.
	ln -sfn bin "$dir/sbin"
	mkdir -p "$dir/usr"
	ln -sfn ../bin "$dir/usr/bin"
	ln -sfn ../bin "$dir/usr/sbin"
}

# ---------------------------------------------------------------- modules

# What the guest needs to reach its root file system and its network in
# each mode, in load order.  crc32c first: ext4's metadata checksums ask
# the crypto API for it, and the initramfs has no modprobe to answer a
# request_module().  Modules of the other modes fail to load (the Xen
# front ends refuse to start outside Xen, virtio finds no device), which
# the guest's /init ignores.
WANTED=(crc32c_intel crc32c_generic ext4
	xen_blkfront xen_netfront
	virtio_pci virtio_blk virtio_net)
MODSTAGE=$WORK/initrd/lib/modules
mkdir -p "$MODSTAGE"
# shellcheck source=scripts/lib-modules.sh
. "$ROOT/scripts/lib-modules.sh"
modules_index
for m in "${WANTED[@]}"; do
	modules_add "$m" required
done
# The Xen device files of the two-guest exchange (scripts/vchan-check.sh):
# /dev/xen/evtchn, /dev/xen/gntdev, /dev/xen/gntalloc.
for m in xen_evtchn xen_gntdev xen_gntalloc; do
	modules_add "$m" optional
done
printf '%s\n' "${LOAD[@]}" >"$MODSTAGE/load.list"

# ---------------------------------------------------------------- initrd

STAGE=$WORK/initrd
install_busybox "$STAGE"
mkdir -p "$STAGE"/{dev,proc,sys,newroot}
# The kernel opens /dev/console for init before devtmpfs is mounted.
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

cat >"$STAGE/init" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the kvm-persona demo guest's initramfs (scripts/guest-image.sh):
# load the storage and network drivers of whichever hypervisor this is,
# find the root file system by its label and switch to it.
export PATH=/bin

say() { echo "persona-initrd: $*"; }

# Without a root there is nothing to report: say why on the console and
# power off, so that the host sees a failure rather than a hang.
fail()
{
	say "FATAL: $*"
	cat /proc/partitions
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

# Only the drivers for the hardware at hand load; the others refuse
# (ENODEV), which is the point: one initramfs for every mode.
loaded=
while read -r mod; do
	insmod "/lib/modules/$mod.ko" 2>/dev/null && loaded="$loaded $mod"
done </lib/modules/load.list
say "drivers loaded:$loaded"

root=LABEL=persona-root
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=*) root=${arg#root=} ;;
	esac
done

# Front ends probe asynchronously: xenbus and virtio attach the disk a
# moment after their module loads.  Wait up to 30 s for it.
dev=
tries=0
while [ $tries -lt 150 ]; do
	case $root in
	LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) ;;
	*) [ -b "$root" ] && dev=$root ;;
	esac
	[ -n "$dev" ] && break
	sleep 0.2
	tries=$((tries + 1))
done
[ -n "$dev" ] || fail "no disk with $root"
say "root file system $root is $dev"

mount -t ext4 -o rw "$dev" /newroot || fail "cannot mount $dev"
umount /sys
umount /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
chmod 755 "$STAGE/init"

(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -n -6 >"$WORK/initrd.gz"

# ---------------------------------------------------------------- rootfs

RFS=$WORK/rootfs
install_busybox "$RFS"
mkdir -p "$RFS"/{dev,proc,sys,run,tmp,var,etc}
chmod 1777 "$RFS/tmp"
echo persona-guest >"$RFS/etc/hostname"

# udhcpc hands the lease to a script; this one only configures the NIC.
cat >"$RFS/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Called by udhcpc with the lease in the environment.
case $1 in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do
		ip route add default via "$r" dev "$interface"
		break
	done
	echo "$ip $router" >/run/lease
	;;
esac
exit 0
EOF
chmod 755 "$RFS/etc/udhcpc.script"

if file -L "$BUSYBOX" | grep -q x86-64; then
	cc -static -O2 -Wall -o "$RFS/bin/persona-vchan" "$VCHAN_SRC" ||
		die "cannot build persona-vchan"
fi

# /sbin is a link to /bin in this tree; busybox's own init goes.
rm -f "$RFS/bin/init"
cat >"$RFS/bin/init" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /sbin/init of the kvm-persona demo guest (scripts/guest-image.sh).
# Looks at what this kernel found, proves the disk and the NIC carry data,
# prints one "PERSONA-FACT key=value" line per fact and powers off.  The
# host (scripts/guest-boot.sh) parses these lines; keep them stable.
export PATH=/bin

fact() { echo "PERSONA-FACT $1=$2"; }
# The first match of a sed expression in the kernel log.
klog() { dmesg | sed -n "$1" | head -n 1; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname

# When userspace took over: the guest's own idea of its boot time.
read -r up _ </proc/uptime
echo "PERSONA-BEGIN"
fact boot_s "$up"
fact kernel "$(uname -r)"

hv=$(klog 's/.*Hypervisor detected: //p')
fact hypervisor "${hv:-none}"
if [ -r /sys/hypervisor/type ]; then
	v=$(cat /sys/hypervisor/type)
	if [ -r /sys/hypervisor/version/major ]; then
		v="$v $(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)"
	fi
	fact sys_hypervisor "$v"
fi
fact clocksource "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
fact clockevent "$(cat /sys/devices/system/clockevents/clockevent0/current_device 2>/dev/null || echo none)"

# Xen event channels: the kernel names the ABI it settled on.
ev=$(klog 's/.*xen:events: Using \(.*\) ABI.*/\1/p')
fact evtchn "${ev:-none}"
if dmesg | grep -q 'Xen HVM callback vector for event delivery is enabled'; then
	fact evtchn_upcall vector
fi
gnt=$(klog 's/.*Grant tables using version \([0-9]*\) layout.*/v\1/p')
[ -z "$gnt" ] || fact gnttab "$gnt"
if dmesg | grep -q 'xen: PV spinlocks enabled'; then
	fact pv_spinlocks xen
fi
hvf=$(klog 's/.*Hyper-V: privilege flags low \(0x[0-9a-f]*\).*hints \(0x[0-9a-f]*\).*/privileges \1 hints \2/p')
[ -z "$hvf" ] || fact hyperv_features "$hvf"

fact vcpus "$(grep -c '^processor' /proc/cpuinfo)"
fact cpus_online "$(cat /sys/devices/system/cpu/online)"

# The two-guest exchange (scripts/vchan-check.sh): the host writes this
# guest's part to the console.
if grep -q 'persona\.vchan=1' /proc/cmdline; then
	persona-vchan </dev/console
	fact vchan_exit "$?"
fi

# The root file system: which device the initramfs found, and that it
# takes a write that survives a sync.
set -- $(awk '$2 == "/" { d = $1; t = $3 } END { print d, t }' /proc/mounts)
fact rootdev "$1"
fact rootfs "$2"
disk=${1#/dev/}
drv=$(readlink "/sys/block/$disk/device/driver" 2>/dev/null)
fact disk_driver "${drv##*/}"
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
if echo "$token" >/var/persona-write && sync && [ "$(cat /var/persona-write)" = "$token" ]; then
	fact root_write ok
else
	fact root_write fail
fi

# The NIC: the first one that is not loopback.
ip link set lo up
nic=
for n in /sys/class/net/*; do
	n=${n##*/}
	[ "$n" = lo ] || { nic=$n; break; }
done
fact nic "${nic:-none}"
drv=$(readlink "/sys/class/net/$nic/device/driver" 2>/dev/null)
fact nic_driver "${drv##*/}"

# Real traffic through that NIC and QEMU's user-mode network: a DHCP
# lease, then an HTTP request carrying a fresh token to a responder that
# the host attached with guestfwd (10.0.2.100:80), which must echo it.
net=fail
detail=
if [ -n "$nic" ] && ip link set "$nic" up &&
   udhcpc -i "$nic" -f -q -n -t 5 -T 2 -s /etc/udhcpc.script >/dev/null 2>&1; then
	set -- $(cat /run/lease)
	detail="dhcp lease $1${2:+ router $2}"
	# No "wget -T": busybox 1.35's static wget crashes with it.
	reply=$(timeout 20 wget -q -O - "http://10.0.2.100/persona/$token" 2>&1)
	case $reply in
	*"persona-echo $token"*) net=ok; detail="$detail, http echo $token" ;;
	*) detail="$detail, http failed: $(echo "$reply" | head -n 1)" ;;
	esac
	if ping -c 1 -W 3 10.0.2.2 >/dev/null 2>&1; then
		fact ping ok
	else
		fact ping fail
	fi
else
	detail="no DHCP lease"
fi
fact net "$net"
fact net_detail "$detail"

# Kernel messages at warning level or worse, for the host to report.
n=0
dmesg -r | grep '^<[0-4]>' | sed 's/^<[0-9]>//' >/tmp/warn
while IFS= read -r line; do
	echo "PERSONA-WARN $line"
	n=$((n + 1))
done </tmp/warn
fact kernel_warnings "$n"

read -r up _ </proc/uptime
fact uptime_s "$up"

# How to stop: poweroff (ACPI S5) unless the host asked otherwise; the
# whole kernel log too if it asked for it.
how=poweroff
for arg in $(cat /proc/cmdline); do
	case $arg in
	persona.shutdown=*) how=${arg#persona.shutdown=} ;;
	persona.dmesg=1)
		dmesg | sed 's/^/PERSONA-DMESG /'
		# Let the console drain: a poweroff drops what the tty
		# has not sent yet.
		sleep 5
		;;
	esac
done
echo "PERSONA-DONE shutdown=$how"
mount -o remount,ro / 2>/dev/null
sync
case $how in
reboot) reboot -f ;;
# A kernel panic: with xen_legacy_crash a Xen guest reports it with
# SCHEDOP_shutdown(crash); others reset (panic=-1).
crash) echo c >/proc/sysrq-trigger ;;
*) poweroff -f ;;
esac
# Not reached; if it is, the host's timeout says so.
sleep 3600
EOF
chmod 755 "$RFS/bin/init"

# The ext4 image, filled from the tree without mounting anything.  32 MiB
# is plenty for busybox; -E root_owner: everything belongs to root.
truncate -s 32M "$WORK/root.img"
mkfs.ext4 -q -F -L "$LABEL" -E root_owner=0:0 -d "$RFS" "$WORK/root.img" >&2
# VHD, as Hyper-V and Azure use it.  force_size keeps the exact size:
# plain VHD rounds to a CHS geometry, which could cut off the end of the
# file system.
qemu-img convert -q -f raw -O vpc -o subformat=dynamic,force_size=on \
	"$WORK/root.img" "$WORK/root.vhd"
# The top-level "virtual-size" (4 blanks in); the nested one is the file's.
vsize=$(qemu-img info --output=json -f vpc "$WORK/root.vhd" |
	sed -n 's/^    "virtual-size": \([0-9]*\).*/\1/p')
[ "$vsize" = "$(stat -c %s "$WORK/root.img")" ] ||
	die "VHD size $vsize differs from the file system image"

cp "$KDIR_IMG/vmlinuz" "$WORK/vmlinuz"
{
	echo "kernel      $KVER: vmlinuz of Debian's linux-image-$KVER package, unmodified"
	echo "initramfs   $BUSYBOX_VERSION + modules: ${LOAD[*]}"
	echo "root        ext4 labelled $LABEL, $(du -k --apparent-size "$WORK/root.img" | cut -f1) KiB, as VHD (vpc, dynamic)"
	(cd "$WORK" && sha256sum vmlinuz initrd.gz root.vhd)
} >"$WORK/manifest"

for f in vmlinuz initrd.gz root.vhd manifest; do
	mv "$WORK/$f" "$OUT/$f"
done
stamp >"$OUT/stamp"
log "modules: ${LOAD[*]}"
log "wrote $OUT: vmlinuz, initrd.gz ($(du -k "$OUT/initrd.gz" | cut -f1) KiB)," \
	"root.vhd ($(du -k "$OUT/root.vhd" | cut -f1) KiB on disk)"
echo "$OUT"
