#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the initramfs of the test host VM ("L1", see scripts/testhost.sh):
# static busybox, the virtio/9p/kvm modules of the test-host kernel and an
# /init that mounts the build machine's root over 9p, chroots into it and
# runs the command that testhost.sh left in the writable "out" share.
#
# Usage: scripts/mkinitramfs.sh [--kernel-dir DIR] [OUT]
#   DIR  an extracted kernel: DIR/vmlinuz and DIR/modules/ (the package's
#        lib/modules/$KVER tree).  Default: $TEST_KERNEL from .cache/env.sh.
#   OUT  default: .cache/l1-$KVER-<hash of DIR>.cpio.gz
#
# Prints OUT on stdout (progress goes to stderr).  The result is cached:
# it is rebuilt only when this script, busybox or the kernel changes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
SELF=$ROOT/scripts/$(basename "$0")

log() { echo "mkinitramfs: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage()
{
	echo "usage: $0 [--kernel-dir DIR] [OUT]" >&2
	exit 2
}

KDIR_IMG=
OUT=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-dir) [ $# -ge 2 ] || usage; KDIR_IMG=$2; shift 2 ;;
	--kernel-dir=*) KDIR_IMG=${1#*=}; shift ;;
	-h|--help) usage ;;
	-*) usage ;;
	*) [ -z "$OUT" ] || usage; OUT=$1; shift ;;
	esac
done

if [ -z "$KDIR_IMG" ]; then
	KDIR_IMG=${TEST_KERNEL:-}
	if [ -z "$KDIR_IMG" ]; then
		[ -e "$CACHE/env.sh" ] || "$ROOT/scripts/deps.sh" >&2
		# shellcheck disable=SC1091
		. "$CACHE/env.sh"
		KDIR_IMG=$TEST_KERNEL
	fi
fi
KDIR_IMG=$(cd "$KDIR_IMG" && pwd)
MODDIR=$KDIR_IMG/modules
[ -e "$KDIR_IMG/vmlinuz" ] || die "$KDIR_IMG/vmlinuz: missing"
[ -d "$MODDIR/kernel" ] || die "$MODDIR/kernel: missing"

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"
# A dynamically linked busybox would need the host's libc in the initramfs.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# The kernel release, from the bzImage header: the 16-bit field at 0x20e
# points (relative to 0x200) at a "6.1.0-56-amd64 (...) #1 ..." string.
# Reading it there works for any extracted kernel, whatever the name of DIR.
kernel_release()
{
	local off
	off=$(od -An -tu2 -j $((0x20e)) -N 2 "$1" | tr -d ' ')
	[ -n "$off" ] && [ "$off" -gt 0 ] || return 1
	dd if="$1" bs=1 skip=$((off + 0x200)) count=128 status=none |
		tr '\0' '\n' | head -n1 | cut -d' ' -f1
}
KVER=$(kernel_release "$KDIR_IMG/vmlinuz" || true)
[ -n "$KVER" ] || KVER=$(basename "$KDIR_IMG")

# Two kernel directories may hold the same release (debug kernels of two
# configurations, see debug-kernel.sh): the name tells them apart, so that
# test hosts booting either at the same time never share an image.
OUT=${OUT:-$CACHE/l1-$KVER-$(printf '%s' "$KDIR_IMG" | sha256sum | cut -c1-8).cpio.gz}
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")

# Everything the image depends on.  Hashing the module tree itself would
# cost more than rebuilding; its modules.order and the vmlinuz change
# whenever the package does.
stamp()
{
	sha256sum "$SELF" "$ROOT/scripts/lib-modules.sh" "$BUSYBOX" | cut -d' ' -f1
	echo "$KVER $KDIR_IMG"
	stat -c '%n %s %Y' "$KDIR_IMG/vmlinuz" "$MODDIR/modules.order" \
		"$MODDIR/modules.builtin" 2>/dev/null || true
}

# Several testhost.sh runs may start at once: one builds, the others wait.
exec 9>"$OUT.lock"
flock 9
if [ -e "$OUT" ] && [ -e "$OUT.stamp" ] &&
   [ "$(cat "$OUT.stamp")" = "$(stamp)" ]; then
	echo "$OUT"
	exit 0
fi

log "building $OUT for $KVER"
STAGE=$(mktemp -d "$CACHE/initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,host,lib/modules}

# ---------------------------------------------------------------- modules

# Modules the test host needs, in the order given by the design; their
# dependencies (modinfo's depends=) are pulled in and loaded first anyway,
# so the list keeps working when a later kernel splits or merges modules
# (6.12 folded fscache into netfs, for instance).
WANTED=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
	virtio_pci netfs fscache 9pnet 9pnet_virtio 9p irqbypass kvm ccp
	kvm_amd)
# Without these the test host is useless: no host root, or no /dev/kvm.
declare -A REQUIRED=([virtio_pci]=1 [9pnet_virtio]=1 [9p]=1 [kvm]=1
	[kvm_amd]=1)
# Nested SVM is kvm-amd's default, but the tests rely on it: say so.
declare -A PARAMS=([kvm_amd]="nested=1")

MODSTAGE=$STAGE/lib/modules
# shellcheck source=scripts/lib-modules.sh
. "$ROOT/scripts/lib-modules.sh"
modules_index

for m in "${WANTED[@]}"; do
	if [ -n "${REQUIRED[$m]:-}" ]; then
		modules_add "$m" required
	else
		modules_add "$m" optional
	fi
done
for m in "${LOAD[@]}"; do
	echo "$m ${PARAMS[$m]:-}"
done >"$STAGE/lib/modules/load.list"

# ---------------------------------------------------------------- busybox

cp "$BUSYBOX" "$STAGE/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$STAGE/bin/$applet"
done
# The kernel opens /dev/console for init before init can mount devtmpfs;
# without the node it warns on the console.  Only root can create it; /init
# falls back to reopening the console itself.
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

# ---------------------------------------------------------------- /init

# Runs under busybox ash.  Everything host specific (the command, its
# directory and environment) comes from the "out" share, so this image only
# changes with the kernel.
cat >"$STAGE/init" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the kvm-persona test host (L1); generated by scripts/mkinitramfs.sh.
set -u
export PATH=/bin

say() { echo "testhost-init: $*"; }

# Something the harness cannot work without failed: say so on the console
# (testhost.sh looks for "testhost-init: FATAL") and stop the VM.
fatal()
{
	say "FATAL: $*"
	dmesg | tail -n 20
	poweroff -f
	sleep 10
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# In case the image had no /dev/console and the kernel gave us no stdio.
exec </dev/console >/dev/console 2>&1

# testhost.MODULE=A=1,B=2 on the kernel command line (testhost.sh
# --append) adds parameters to a module of the list, for experiments
# (testhost.kvm_amd=npt=0: L1's KVM without nested paging).
while read -r mod params; do
	for arg in $(cat /proc/cmdline); do
		case $arg in
		testhost.$mod=*) params="$params $(echo "${arg#testhost."$mod"=}" | tr , ' ')" ;;
		esac
	done
	# shellcheck disable=SC2086 # params are separate words by design
	insmod "/lib/modules/$mod.ko" $params || fatal "cannot load $mod"
done </lib/modules/load.list
[ -c /dev/kvm ] || fatal "kvm loaded but there is no /dev/kvm"

# The build machine's root, read only.  cache=loose lets the guest cache
# pages and dentries: nothing changes under it while the VM runs, and
# executing QEMU and test binaries over uncached 9p is markedly slower.
H=/host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host $H ||
	fatal "cannot mount the host root over 9p"

# The usual API file systems, and writable scratch space where programs
# expect it.  /tmp and /run are fresh tmpfs: the host's are shadowed.
mount -t proc proc $H/proc
mount -t sysfs sysfs $H/sys
mount -t devtmpfs devtmpfs $H/dev
mkdir -p $H/dev/pts $H/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $H/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $H/dev/shm
# A tree that lives under the host's /tmp (CI may clone there) would vanish
# under the fresh tmpfs: keep a view of the host's /tmp aside and bind the
# directories named by testhost.keep= back at their own paths.
mkdir -p /.hosttmp
mount --bind $H/tmp /.hosttmp
mount -t tmpfs -o mode=1777 tmpfs $H/tmp
mount -t tmpfs -o mode=755 tmpfs $H/run
for arg in $(cat /proc/cmdline); do
	case $arg in
	testhost.keep=*) ;;
	*) continue ;;
	esac
	for dir in $(echo "${arg#testhost.keep=}" | tr , ' '); do
		case $dir in
		/tmp/?*)
			mkdir -p "$H$dir"
			mount --bind "/.hosttmp/${dir#/tmp/}" "$H$dir" ||
				fatal "cannot keep $dir visible"
			;;
		esac
	done
done
# KVM's statistics live in debugfs; tests may read them.
mount -t debugfs debugfs $H/sys/kernel/debug 2>/dev/null || true
mount -t tracefs tracefs $H/sys/kernel/tracing 2>/dev/null || true

# The writable share: the command comes in, results and logs go out.  No
# caching, so what is written is on the host even if the kernel dies next.
O=$H/tmp/out
mkdir -p $O
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out $O ||
	fatal "cannot mount the out share"
[ -r $O/cmd.sh ] || fatal "no cmd.sh in the out share"
# testhost.sh runs QEMU without -no-reboot, so that a reset logs the
# CPUs' registers: a second boot must not run the command again.
[ ! -e $O/started ] || fatal "L1 was reset while the command ran"

# Stream the kernel log to the host as it is written, so a hang or a
# timeout still leaves the log behind (a final dmesg is taken below).
cat /proc/kmsg >$O/kmsg.log 2>/dev/null &
klog=$!

hostname testhost
# Bare "\n" line ends on the console: the test output (KTAP) is read by
# tools on the build machine.
stty -onlcr 2>/dev/null || true

# While the command runs, kernel warnings (level 4) reach the console too,
# not only errors: a WARN() splat then shows up live, next to the test
# output that provoked it, and is on the console before panic_on_warn
# stops the machine.
echo 5 >/proc/sys/kernel/printk
# The file's time stamp (host clock) marks the end of the boot.
cat /proc/uptime >$O/started
rc=0
chroot $H /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	/bin/bash /tmp/out/cmd.sh </dev/null || rc=$?
cat /proc/uptime >$O/finished

# A kernel with kmemleak (the debug test host): look for leaks now that
# the command is done.  Two scans a few seconds apart, so that an object
# whose last pointer was only in a register or on a stack at the first
# scan is not reported; then the report (objects and allocation stacks)
# goes to the kernel log, where testhost.sh looks for problems.
K=$H/sys/kernel/debug/kmemleak
if [ -w $K ]; then
	echo scan >$K
	sleep 5
	echo scan >$K
	n=0
	while IFS= read -r line; do
		echo "<3>kmemleak: $line" >/dev/kmsg
		case $line in
		"unreferenced object"*) n=$((n + 1)) ;;
		esac
	done <$K
	say "kmemleak: $n unreferenced objects after the command"
fi
echo 4 >/proc/sys/kernel/printk

# The log first, the status last: a status file means the rest is complete.
dmesg >$O/dmesg.txt
kill $klog 2>/dev/null
echo $rc >$O/status
sync
# Not even the "reboot: Power down" line: the console ends with the test
# output.  (A panic still prints: it raises the level itself.)
echo 0 >/proc/sys/kernel/printk
poweroff -f
sleep 10
EOF
chmod 755 "$STAGE/init"

# ---------------------------------------------------------------- archive

(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -n -6 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
stamp >"$OUT.stamp"
log "modules: ${LOAD[*]}"
log "wrote $OUT ($(du -k "$OUT" | cut -f1) KiB)"
echo "$OUT"
