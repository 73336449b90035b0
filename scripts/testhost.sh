#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command inside a disposable test host VM ("L1") and report how it
# went, including what the L1 kernel said about it.
#
# The build machine cannot load modules and its own /dev/kvm is unusable,
# so L1 is the stock test-host kernel under QEMU's TCG (-cpu max emulates
# AMD SVM): kvm.ko and kvm-amd.ko load there and give a real /dev/kvm.  L1
# sees the build machine's root read-only over 9p and runs COMMAND in a
# chroot of it, so the machine's own QEMU, binaries and this tree are
# available at the same paths.  /tmp and /run are empty tmpfs in L1.
#
# Usage: scripts/testhost.sh [options] -- COMMAND...
#   --timeout SECONDS  kill the VM after this long (default 1500)
#   --mem MB           L1 memory (default 3072)
#   --smp N            L1 vCPUs (default 2)
#   --kernel-dir DIR   boot this extracted kernel (DIR/vmlinuz, DIR/modules)
#                      instead of $TEST_KERNEL from .cache/env.sh
#   --cwd DIR          directory COMMAND starts in (default: this tree)
#   --append ARGS      extra L1 kernel command line arguments
#
# COMMAND: a single argument is a shell command line (run by bash), several
# arguments are one command and its arguments, passed through verbatim.
# Inside L1 it runs as root with TESTHOST=1, TESTHOST_OUT=/tmp/out (files
# written there come back to the build machine) and TESTHOST_KERNEL_DIR
# (the booted kernel's directory, for its stock modules; L1 has no
# /lib/modules/$(uname -r), so use insmod with a path, not modprobe).
#
# The serial console (COMMAND's stdout/stderr, kernel errors) streams to
# stdout; the harness's own messages go to stderr, prefixed "testhost:".
#
# Results land in a fresh directory .cache/testhost/run.*/ (the path is
# printed; .cache/testhost/last points at the newest; the 20 newest are kept):
#   console.log  the serial console      dmesg.txt  L1's kernel log at the end
#   kmsg.log     L1's kernel log, streamed while running (survives hangs)
#   status       COMMAND's exit status   cmd.sh     what ran
#   qemu         the L0 QEMU binary: scripts/qemu-l0.sh's when built (the
#                machine's own with TESTHOST_STOCK_QEMU=1 or QEMU=)
#   plus whatever COMMAND wrote to $TESTHOST_OUT.
#
# Exit status:
#   0..255  COMMAND's exit status, when nothing below applies
#   122     L1 panicked (e.g. panic_on_warn fired) before COMMAND finished
#   123     COMMAND succeeded but L1's kernel log shows a problem
#           (WARNING, BUG, Oops, lockdep, soft lockup, ...)
#   124     timed out
#   125     harness error: bad usage, L1 failed to boot, QEMU died, or
#           this script was interrupted (it stops QEMU first)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$ROOT/.cache}
# L0: the QEMU built by scripts/qemu-l0.sh (Debian's, with this tree's
# fix for nested SVM under TCG) when it is built; QEMU= wins, and
# TESTHOST_STOCK_QEMU=1 keeps the machine's own (for comparisons).
if [ -z "${QEMU:-}" ] && [ -z "${TESTHOST_STOCK_QEMU:-}" ] &&
	[ -e "$CACHE/qemu-l0-env.sh" ]; then
	# shellcheck disable=SC1091
	QEMU=$(. "$CACHE/qemu-l0-env.sh" && [ -x "${QEMU_L0:-}" ] && echo "$QEMU_L0") || true
fi
QEMU=${QEMU:-qemu-system-x86_64}

EXIT_PANIC=122
EXIT_KLOG=123
EXIT_TIMEOUT=124
EXIT_HARNESS=125

log() { echo "testhost: $*" >&2; }
die() { log "error: $*"; exit $EXIT_HARNESS; }

usage()
{
	sed -n '/^# Usage:/,/^# COMMAND:/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit "${1:-$EXIT_HARNESS}"
}

TIMEOUT=1500
MEM=3072
SMP=2
KERNEL_DIR=
CWD=$ROOT
EXTRA_APPEND=
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout|--mem|--smp|--kernel-dir|--cwd|--append)
		[ $# -ge 2 ] || usage
		case "$1" in
		--timeout) TIMEOUT=$2 ;;
		--mem) MEM=$2 ;;
		--smp) SMP=$2 ;;
		--kernel-dir) KERNEL_DIR=$2 ;;
		--cwd) CWD=$2 ;;
		--append) EXTRA_APPEND=$2 ;;
		esac
		shift 2
		;;
	--) shift; break ;;
	-h|--help) usage 0 ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
for n in "$TIMEOUT" "$MEM" "$SMP"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $n"
done
case "$CWD" in
/*) ;;
*) CWD=$(cd "$CWD" && pwd) || die "--cwd: no such directory" ;;
esac

if [ -z "$KERNEL_DIR" ]; then
	[ -e "$CACHE/env.sh" ] || "$ROOT/scripts/deps.sh" >&2
	# shellcheck disable=SC1091
	. "$CACHE/env.sh"
	KERNEL_DIR=$TEST_KERNEL
fi
KERNEL_DIR=$(cd "$KERNEL_DIR" && pwd) || die "no kernel directory $KERNEL_DIR"
[ -e "$KERNEL_DIR/vmlinuz" ] || die "$KERNEL_DIR/vmlinuz: missing"
command -v "$QEMU" >/dev/null || die "$QEMU not found (run scripts/deps.sh)"

INITRD=$("$ROOT/scripts/mkinitramfs.sh" --kernel-dir "$KERNEL_DIR") ||
	die "cannot build the initramfs"
KVER_L1=$(basename "$INITRD" .cpio.gz)
KVER_L1=${KVER_L1#l1-}

# Decompressing the bzImage takes TCG about 5 s, a third of a short run.
# Kernels with CONFIG_PVH boot straight from their uncompressed ELF image
# (QEMU's PVH entry), so unpack it once and cache it.  Prints the file to
# boot: the ELF image when that works, vmlinuz otherwise.
l1_kernel()
{
	local vmlinuz=$KERNEL_DIR/vmlinuz elf=$CACHE/l1-$KVER_L1.vmlinux
	local magic off unpack tmp=$elf.$$ src
	# A KASAN kernel (the debug test host) dies silently in the PVH
	# entry: its C part (arch/x86/platform/pvh/enlighten.c) is
	# instrumented and runs before KASAN's shadow exists.
	if ! grep -qx 'CONFIG_PVH=y' "$KERNEL_DIR/config" 2>/dev/null ||
	   grep -qx 'CONFIG_KASAN=y' "$KERNEL_DIR/config"; then
		echo "$vmlinuz"
		return
	fi
	src=$(stat -c '%n %s %Y' "$vmlinuz")
	if [ -s "$elf" ] && [ "$(cat "$elf.src" 2>/dev/null)" = "$src" ]; then
		echo "$elf"
		return
	fi
	# The payload is the first compressed stream that unpacks to an ELF
	# file: magic numbers of xz, zstd and gzip.
	for magic in '\xfd7zXZ\x00' '\x28\xb5\x2f\xfd' '\x1f\x8b\x08'; do
		case "$magic" in
		*7zXZ*) unpack='xz -dcq --single-stream' ;;
		*b5*) unpack='zstd -dcq' ;;
		*) unpack='gzip -dcq' ;;
		esac
		while read -r off; do
			# Trailing data after the stream makes the tools complain;
			# the ELF magic of the output is what counts.
			tail -c +$((off + 1)) "$vmlinuz" | $unpack >"$tmp" 2>/dev/null || true
			if [ "$(head -c 4 "$tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				mv "$tmp" "$elf"
				echo "$src" >"$elf.src"
				echo "$elf"
				return
			fi
		# Only the offsets: bash's read chokes on the binary match
		# itself in a UTF-8 locale.
		done < <(LC_ALL=C grep -obUaP "$magic" "$vmlinuz" | LC_ALL=C cut -d: -f1)
	done
	rm -f "$tmp"
	echo "$vmlinuz"
}
KERNEL=$(l1_kernel)

# ---------------------------------------------------------------- run dir

RUNS=$CACHE/testhost
mkdir -p "$RUNS"
OUT=$(mktemp -d "$RUNS/run.$(date +%Y%m%d-%H%M%S).XXXX")
# L1's root writes here through 9p as whatever user it is in there.
chmod 777 "$OUT"
ln -sfn "$(basename "$OUT")" "$RUNS/last"
# Keep the 20 newest runs.  Older ones go, unless younger than two hours:
# that may be another harness still running (the longest default run is
# 25 minutes).
find "$RUNS" -mindepth 1 -maxdepth 1 -type d -name 'run.*' -printf '%T@ %p\n' |
	sort -rn | tail -n +21 | cut -d' ' -f2- |
	xargs -r -d '\n' -I{} find {} -maxdepth 0 -mmin +120 |
	while IFS= read -r old; do rm -rf -- "$old"; done

# What L1 runs in the chroot.  Going through a file, not the kernel
# command line, keeps any quoting intact.
{
	echo "# generated by scripts/testhost.sh"
	echo "export HOME=/tmp TERM=dumb LANG=C.UTF-8 TESTHOST=1 TESTHOST_OUT=/tmp/out"
	printf 'export TESTHOST_KERNEL_DIR=%q\n' "$KERNEL_DIR"
	printf 'cd -- %q || exit %d\n' "$CWD" $EXIT_HARNESS
	if [ $# -eq 1 ]; then
		printf '%s\n' "$1"
	else
		printf '%q ' "$@"
		echo
	fi
} >"$OUT/cmd.sh"

# ---------------------------------------------------------------- boot

# panic=-1: any panic resets L1 at once, and /init ends a second boot
# (below).  The console is
# "quiet" while L1 boots; /init lets warnings through while the command
# runs, so the WARNING that trips panic_on_warn reaches console.log.
# devkmsg=on: tests may log markers through /dev/kmsg.
# tsc=reliable: TCG's TSC comes from one host clock, so it is in sync
# across vCPUs; without this L1 declares it unstable and falls back to the
# HPET, whose every read is an emulated MMIO access (slow L2 guests).
APPEND="console=ttyS0 quiet panic=-1 panic_on_warn=1 oops=panic"
APPEND+=" log_buf_len=8M printk.devkmsg=on random.trust_cpu=on tsc=reliable"
# Trees under the host's /tmp stay visible in L1 (see mkinitramfs.sh).
KEEP=
for dir in "$ROOT" "$CWD"; do
	case $dir in
	/tmp/?*) KEEP+=${KEEP:+,}$dir ;;
	esac
done
case $KEEP in
*[[:space:]]*) die "paths with blanks under /tmp are not supported" ;;
esac
APPEND+=${KEEP:+ testhost.keep=$KEEP}
APPEND+=${EXTRA_APPEND:+ $EXTRA_APPEND}

# QEMU's option parser wants commas in values doubled.
qesc() { printf '%s' "${1//,/,,}"; }

# shellcheck disable=SC2054 # the commas are QEMU's, inside single words
QEMU_ARGS=(
	-accel tcg -cpu max -m "$MEM" -smp "$SMP"
	-display none -nic none
	# The human monitor on a socket: "info registers -a" of a stuck L1
	# (scripts/testhost-monitor.py).
	-monitor "unix:$(qesc "$OUT/monitor.sock"),server=on,wait=off"
	# No -no-reboot: a reset (a triple fault, or a panic's reboot) boots
	# L1 again, whose /init sees the first boot's "started" file and
	# powers off at once.  The reset first logs each CPU's registers
	# (-d cpu_reset), the only trace a triple fault leaves.
	-d cpu_reset -D "$OUT/qemu-cpu.log"
	-chardev "stdio,id=con,logfile=$(qesc "$OUT/console.log")"
	-serial chardev:con
	-kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND"
	# multidevs=remap: / spans several file systems on some machines;
	# without it their inode numbers could collide inside L1.
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$(qesc "$OUT"),mount_tag=out,security_model=none,multidevs=remap"
)

log "booting $KVER_L1 under TCG (${MEM} MiB, $SMP vCPUs, timeout ${TIMEOUT}s)"
log "L0: $QEMU"
echo "$QEMU" >"$OUT/qemu"
log "results in $OUT"

T0=$(date +%s.%N)
# stdin from /dev/null: QEMU puts a terminal on stdin into raw mode and
# makes it non-blocking, which would leak into the calling shell.
# --foreground keeps QEMU in our process group, so Ctrl-C reaches it.
# In the background, so that a SIGTERM to this script (an outer timeout,
# make being stopped) can be passed on instead of leaving QEMU running.
timeout --foreground --kill-after=10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" \
	</dev/null &
vm_pid=$!
interrupted=
trap 'interrupted=1; kill -TERM "$vm_pid" 2>/dev/null || true' INT TERM HUP
while :; do
	vm_rc=0
	wait "$vm_pid" || vm_rc=$?
	# A trapped signal ends the wait early; wait again for QEMU itself.
	kill -0 "$vm_pid" 2>/dev/null || break
done
trap - INT TERM HUP
T1=$(date +%s.%N)

# ---------------------------------------------------------------- verdict

# Problems the kernel reports.  The kvm "Unhandled WRMSR(0xc0010007)" line
# is harmless (a guest probing an AMD perf MSR) and matches nothing here.
# The debug test host (scripts/debug-kernel.sh) adds KASAN ("BUG: KASAN"),
# UBSAN, lockdep, sleep-in-atomic ("BUG: sleeping function"), list and
# debug-objects reports, and the kmemleak scan at the end of every run
# (mkinitramfs.sh's /init copies it into the kernel log).
BAD='WARNING:|BUG:|Oops|general protection fault|Kernel panic|lockdep|possible circular locking|kmemleak|unreferenced object|soft lockup|hung_task|Call Trace'
BAD+='|UBSAN:|inconsistent lock state|possible recursive locking|suspicious RCU usage|new suspected memory leak|list_(add|del) corruption|ODEBUG:|detected stalls? on CPU'
# Known harmless lines that would otherwise match BAD.
BENIGN='Unhandled WRMSR\(0xc0010007\)|kmemleak: Kernel memory leak detector initialized|RCU lockdep checking is enabled'

# Print the parts of log $1 around problem lines: 3 lines before, 50 after
# (a WARN() splat is about 40 lines), 200 lines at most.
show_problems()
{
	grep -nE "$BAD" "$1" | grep -vE "$BENIGN" | cut -d: -f1 |
		awk -v file="$1" '
			{ for (i = $1 - 3; i <= $1 + 50; i++) want[i] = 1 }
			END {
				while ((getline line < file) > 0) {
					nr++
					if (!(nr in want)) { gap = 1; continue }
					if (gap && n) print "  ..."
					gap = 0
					if (++n > 200) { print "  ... (more in " file ")"; exit }
					print "  " line
				}
			}'
}

has_problems() { grep -E "$BAD" "$1" | grep -qvE "$BENIGN"; }

# L1 was reset without a panic: say whether QEMU saw a triple fault, and
# show the registers of the CPUs that were in long mode when it happened
# (QEMU also logs the resets at its start and the INITs that start the
# APs, all outside long mode), without the FPU and vector registers.
show_reset()
{
	local cpulog=$OUT/qemu-cpu.log
	if grep -q '^Triple fault' "$cpulog" 2>/dev/null; then
		log "FAIL: L1 was reset by a triple fault, with no report in its kernel log"
	else
		log "FAIL: L1 was reset (no triple fault: a reset request), with no report in its kernel log"
	fi
	awk '/^CPU Reset/ { if (lm) printf "%s", blk; blk = ""; lm = 0 }
	     /^RAX=/ { lm = 1 }
	     !/^(FCW|FPR|XMM|YMM|ZMM|Opmask)/ { blk = blk $0 "\n" }
	     END { if (lm) printf "%s", blk }' "$cpulog" 2>/dev/null |
		head -n 80 | sed 's/^/  /' >&2
	log "every CPU's registers at the reset: $cpulog"
}

# Seconds between two time stamps, one decimal.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if [ -e "$OUT/started" ]; then
	log "boot $(elapsed "$T0" "$(stat -c %.9Y "$OUT/started")")s" \
		"(L1 uptime $(cut -d' ' -f1 "$OUT/started")s), total $(elapsed "$T0" "$T1")s"
fi

# Which kernel log to scan: the final dmesg when L1 got that far, else
# what the streamer saved before L1 stopped.
KLOG=
if [ -s "$OUT/dmesg.txt" ]; then
	KLOG=$OUT/dmesg.txt
elif [ -s "$OUT/kmsg.log" ]; then
	KLOG=$OUT/kmsg.log
fi

if [ -e "$OUT/status" ]; then
	rc=$(cat "$OUT/status")
	[[ $rc =~ ^[0-9]+$ ]] || die "garbled status file: $rc"
	log "command exited with status $rc"
elif [ -n "$interrupted" ]; then
	log "FAIL: interrupted"
	rc=$EXIT_HARNESS
elif [ "$vm_rc" -eq 124 ] || [ "$vm_rc" -eq 137 ]; then
	log "FAIL: timed out after ${TIMEOUT}s"
	if [ -n "$KLOG" ]; then
		log "last lines of $KLOG:"
		tail -n 40 "$KLOG" | sed 's/^/  /' >&2
	fi
	rc=$EXIT_TIMEOUT
elif grep -q 'Kernel panic - not syncing' "$OUT/console.log" 2>/dev/null; then
	# The console has the splat that led here (see /init): show it up to
	# the panic line, whose own stack dump repeats it.  The streamed log
	# may have missed the end, so it is not scanned.
	log "FAIL: test host panicked:"
	first=$(grep -nE "$BAD" "$OUT/console.log" | grep -vE "$BENIGN" |
		head -n1 | cut -d: -f1)
	sed -n "$((first > 3 ? first - 3 : 1)),/Kernel panic - not syncing/p" \
		"$OUT/console.log" | head -n 150 | sed 's/^/  /' >&2
	[ -z "$KLOG" ] || log "L1 kernel log up to the panic: $KLOG"
	KLOG=
	rc=$EXIT_PANIC
elif grep -q 'testhost-init: FATAL: L1 was reset' "$OUT/console.log" 2>/dev/null; then
	show_reset
	rc=$EXIT_HARNESS
elif grep -q 'testhost-init: FATAL' "$OUT/console.log" 2>/dev/null; then
	log "FAIL: the test host did not come up:"
	sed -n '/testhost-init: FATAL/,$p' "$OUT/console.log" | sed 's/^/  /' >&2
	rc=$EXIT_HARNESS
else
	log "FAIL: QEMU exited with status $vm_rc before the command finished"
	rc=$EXIT_HARNESS
fi

if [ -n "$KLOG" ]; then
	log "L1 kernel log: $KLOG"
	if has_problems "$KLOG"; then
		log "FAIL: problems in the L1 kernel log:"
		show_problems "$KLOG" >&2
		[ "$rc" -ne 0 ] || rc=$EXIT_KLOG
	fi
fi

if [ "$rc" -eq 0 ]; then
	log "PASS"
else
	log "FAIL (exit $rc); logs in $OUT"
fi
exit "$rc"
