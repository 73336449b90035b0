#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: dependencies, module build, style, selftests build, then the
# tests inside a disposable test host VM.  Prints KTAP and ends with the
# line "N passed, N failed" counting every test, host-side and in L1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

PASS=0
FAIL=0
SKIP=0
N=0

ok()     { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N $1"; }
not_ok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N $1"; }
step()   { echo "# --- $* ($(date +%T))"; }

# Run a host-side step; its output goes to LOG and is shown on failure.
host_test()
{
	local name=$1 log
	shift
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		ok "$name"
	else
		not_ok "$name"
		sed 's/^/# /' "$log" | tail -n 60
	fi
	rm -f "$log"
}

# Add a sub-run's own "N passed, N failed[, N skipped]" line (the last in
# the log $1) to our counts; false if it printed none.  SUB_FAIL is its
# failure count.
SUB_FAIL=
absorb_summary()
{
	local summary p s
	summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	[ -n "$summary" ] || return 1
	p=$(echo "$summary" | sed -E 's/^([0-9]+) passed.*/\1/')
	SUB_FAIL=$(echo "$summary" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	s=$(echo "$summary" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
	PASS=$((PASS + p))
	FAIL=$((FAIL + SUB_FAIL))
	SKIP=$((SKIP + ${s:-0}))
	N=$((N + p + SUB_FAIL))
}

echo "TAP version 13"

# What the machine boots must not change: no kernel package (image or
# headers, which pull an image) may be installed by anything below.
kernel_packages()
{
	dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' \
		'linux-image-*' 'linux-headers-*' 2>/dev/null | awk '$1 == "ii"'
}
KPKGS_BEFORE=$(kernel_packages)

step "dependencies"
if ! scripts/deps.sh; then
	not_ok deps
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
# shellcheck disable=SC1091
. .cache/env.sh

# The fast tier first (scripts/style.sh, also make style): checkpatch, the
# layers, a W=1 + sparse build of the module, shellcheck.  A failure there
# ends the run at once, before any slow step.
step "fast tier: style (checkpatch, layers, W=1 + sparse, shellcheck)"
log=$(mktemp)
scripts/style.sh --start $((N + 1)) --no-plan | tee "$log"
rc=${PIPESTATUS[0]}
absorb_summary "$log" || not_ok style_ran
rm -f "$log"
if [ "$rc" -ne 0 ]; then
	echo "# the fast tier failed: stopping before the slow steps"
	echo "1..$N"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi

step "the test host's QEMU (L0, with the nested-SVM fix)"
# Built once per machine from Debian's qemu source package and cached
# (scripts/qemu-l0.sh); scripts/testhost.sh then boots every test host
# under it.  See "Nested SVM under TCG" in Documentation/testing.rst.
host_test qemu_l0_builds scripts/qemu-l0.sh

step "module signing (make sign)"
# scripts/sign-check.sh: make sign with a throwaway key on a copy of the
# module, checked with modinfo and openssl; its tests are named sign.*.
sign_check()
{
	local log
	log=$(mktemp)
	scripts/sign-check.sh --name sign --no-plan --start $((N + 1)) |
		tee "$log"
	absorb_summary "$log" || not_ok sign_check_ran
	rm -f "$log"
}
sign_check

step "selftests build"
host_test selftests_build make -C selftests

step "test host"
log=$(mktemp)
scripts/testhost.sh --timeout "${CHECK_TIMEOUT:-2400}" -- selftests/run.sh |
	tee "$log"
rc=${PIPESTATUS[0]}

# The harness's verdict (testhost.sh's exit status $2) on L1's kernel
# log, as test $1; a run whose own tests failed explains a non-zero status.
testhost_verdict()
{
	case $2 in
	0) ok "$1" ;;
	122) not_ok "$1 # L1 panicked" ;;
	123) not_ok "$1 # a kernel report (WARNING/BUG/KASAN/lockdep...) in L1" ;;
	124) not_ok "$1 # timed out" ;;
	*)
		if [ -n "$SUB_FAIL" ] && [ "$SUB_FAIL" -ne 0 ]; then
			ok "$1"
		else
			not_ok "$1 # harness status $2"
		fi
		;;
	esac
}

# run.sh's own summary line, then the harness's verdict on L1's kernel log.
absorb_summary "$log" || not_ok "testhost_ran_tests"
testhost_verdict testhost_clean_kernel_log "$rc"
rm -f "$log"

# The debug test host: Debian's 6.1 source with the debug options
# (scripts/debug-kernel.sh, cached machine-wide), the module built against
# it, and the same selftests, upstream suites and fuzz slice; a kmemleak
# scan ends the run and any report in its kernel log fails it.  Part of
# every run; CHECK_DEBUG_HOST=0 skips it for a quicker look by hand (not
# a passing run: it reports the skip).
debug_ready()
{
	scripts/debug-kernel.sh >/dev/null && make -s module-debug W=1
}
step "debug test host (KASAN, kmemleak, lockdep, UBSAN)"
if [ "${CHECK_DEBUG_HOST:-1}" != 1 ]; then
	echo "ok $((N + 1)) debug_testhost # SKIP CHECK_DEBUG_HOST=${CHECK_DEBUG_HOST}"
	N=$((N + 1))
	SKIP=$((SKIP + 1))
fi
if [ "${CHECK_DEBUG_HOST:-1}" = 1 ] &&
   host_test debug_kernel_and_module_build debug_ready; then
	# shellcheck disable=SC1091
	. .cache/debug-env.sh
	log=$(mktemp)
	scripts/testhost.sh --kernel-dir "$DEBUG_KERNEL" \
		--timeout "${CHECK_DEBUG_TIMEOUT:-2700}" -- \
		env KVM_PERSONA_KO=.cache/debug-build/src/kvm-persona.ko \
		selftests/run.sh | sed -u 's/^\(\(not \)\{0,1\}ok [0-9]* \)/\1debug./' |
		tee "$log"
	rc=${PIPESTATUS[0]}
	absorb_summary "$log" || not_ok "debug_testhost_ran_tests"
	testhost_verdict debug_testhost_clean_kernel_log "$rc"
	rm -f "$log"
fi

step "guest image in its three personalities"
# Boot an image in the test host with scripts/guest-check.sh, whose
# tests are named $1.MODE.*; the rest are guest-check.sh's options.
# TESTHOST_ARGS: testhost.sh's own options (another kernel).
TESTHOST_ARGS=()
# One KTAP script in a test host: SCRIPT TIMEOUT NAME ARGS..., its tests
# named NAME.*, numbered on from ours.
testhost_script_run()
{
	local script=$1 timeout=$2 name=$3 log rc
	shift 3
	log=$(mktemp)
	scripts/testhost.sh "${TESTHOST_ARGS[@]}" --timeout "$timeout" -- \
		"$script" --name "$name" "$@" --no-plan --start $((N + 1)) |
		tee "$log"
	rc=${PIPESTATUS[0]}
	absorb_summary "$log" || not_ok "${name}_check_ran"
	case $rc in
	0|1) ;;
	*) not_ok "${name}_check_clean_kernel_log # harness status $rc" ;;
	esac
	rm -f "$log"
}
guest_check_run()
{
	local name=$1
	shift
	testhost_script_run scripts/guest-check.sh 1500 "$name" "$@" --attempts 1
}
# One boot per mode, no retry: a boot that does not complete is a failure
# (the nested-SVM flaw that used to make boots fail now and then is fixed
# in the test host's QEMU: Documentation/testing.rst).
host_test guest_image_builds scripts/guest-image.sh
guest_check_run guest --modes "xen hyperv kvm"

step "the demo guest in Xen mode through libvirt (virsh, Debian 12's libvirt)"
# scripts/libvirt-check.sh: libvirtd and virsh, set up by hand in the test
# host, define and start Documentation/libvirt/persona-xen.xml with the
# machine's QEMU 10; the same Xen-mode facts as guest-check.sh's, tests
# named libvirt.*.
testhost_script_run scripts/libvirt-check.sh 900 libvirt

step "two Xen guests talking: event channels and grant copy between VMs"
# scripts/vchan-check.sh, tests named $1.*; the rest are its options.
vchan_check_run()
{
	local name=$1
	shift
	testhost_script_run scripts/vchan-check.sh 1200 "$name" "$@"
}
vchan_check_run vchan

step "DKMS: the module built, installed, loaded and removed by dkms"
# scripts/dkms-check.sh in a test host made to look like a Debian host
# with the test kernel installed; tests named dkms.*.
testhost_script_run scripts/dkms-check.sh 1200 dkms

step "the 32-bit guest: Debian's 686-pae kernel and i386 busybox"
# The same image recipe with the i386 packages (scripts/i386-deps.sh):
# in Xen mode the guest runs the 32-bit hypercall page and the compat
# layouts of shared_info, vcpu_info and runstate.  No retry either.
guest32_image()
{
	scripts/i386-deps.sh || return 1
	# shellcheck disable=SC1091
	. .cache/i386-env.sh
	scripts/guest-image.sh --kernel-dir "$I386_KERNEL" \
		--busybox "$I386_BUSYBOX" --out .cache/guest32
}
host_test guest32_image_builds guest32_image
guest_check_run guest32 --image .cache/guest32 \
	--modes "${CHECK_GUEST32_MODES:-xen hyperv kvm}"

# ---- The second series: Linux 6.12 without CONFIG_KVM_XEN --------------
#
# Debian's linux-source-6.12 with the anchor's KVM options but
# CONFIG_KVM_XEN off and CONFIG_KVM_HYPERV on (the RHEL 10 / SUSE
# configuration; scripts/kernel-build.sh 612, cached machine-wide), the
# module built against it W=1- and sparse-clean, 6.12's own upstream
# suites, and on its test host the same selftests, fuzz slice and
# unload/reload (selftests/run.sh), then the demo image in its three
# personalities.  CHECK_612=0 skips it for a quicker look by hand (not a
# passing run: it reports the skip).  Each series' counts are printed at
# the end.
P61=$PASS F61=$FAIL S61=$SKIP
step "Linux 6.12 without CONFIG_KVM_XEN: kernel, module, upstream suites"
k612_kernel() { scripts/kernel-build.sh 612 >/dev/null; }
k612_module_w1_clean()
{
	local out
	out=$(make -s module-612 W=1 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	! echo "$out" | grep -v 'Skipping BTF generation' |
		grep -iE 'warning|error'
}
k612_module_sparse_clean()
{
	local out
	out=$(make -s module-612 C=1 2>&1) || { echo "$out"; return 1; }
	! echo "$out" | grep -E '^/.*: (warning|error):'
}
# 6.12's own selftests, out of the shared kernel source: its headers
# are installed under the output directory, so the tree stays clean.
k612_upstream_suites()
{
	# shellcheck disable=SC1091
	. .cache/k612-env.sh
	make -C selftests upstream SHARED_SRC=1 O="$ROOT/selftests/out-612" \
		LINUX_SRC="$(readlink -f "$K612_KDIR/source")"
}
if [ "${CHECK_612:-1}" != 1 ]; then
	echo "ok $((N + 1)) k612 # SKIP CHECK_612=${CHECK_612}"
	N=$((N + 1))
	SKIP=$((SKIP + 1))
elif host_test k612.kernel_builds k612_kernel &&
     host_test k612.module_builds_w1_clean k612_module_w1_clean &&
     { ! command -v sparse >/dev/null ||
       host_test k612.module_sparse_clean k612_module_sparse_clean; } &&
     host_test k612.upstream_suites_build k612_upstream_suites; then
	# shellcheck disable=SC1091
	. .cache/k612-env.sh
	step "Linux 6.12 test host: selftests, 6.12's upstream suites, fuzz slice"
	log=$(mktemp)
	scripts/testhost.sh --kernel-dir "$K612_KERNEL" \
		--timeout "${CHECK_TIMEOUT:-2400}" -- \
		env KVM_PERSONA_KO=.cache/k612-build/src/kvm-persona.ko \
		KVM_PERSONA_UPSTREAM=selftests/out-612/upstream/x86_64 \
		selftests/run.sh | sed -u 's/^\(\(not \)\{0,1\}ok [0-9]* \)/\1k612./' |
		tee "$log"
	rc=${PIPESTATUS[0]}
	absorb_summary "$log" || not_ok "k612.testhost_ran_tests"
	testhost_verdict k612.testhost_clean_kernel_log "$rc"
	rm -f "$log"

	step "Linux 6.12 test host: the guest image in its three personalities"
	TESTHOST_ARGS=(--kernel-dir "$K612_KERNEL")
	guest_check_run k612_guest --modes "xen hyperv kvm" \
		--module "$ROOT/.cache/k612-build/src/kvm-persona.ko"

	step "Linux 6.12 test host: two Xen guests talking"
	vchan_check_run k612_vchan \
		--module "$ROOT/.cache/k612-build/src/kvm-persona.ko"

	step "Linux 6.12 test host: the demo guest through libvirt"
	testhost_script_run scripts/libvirt-check.sh 900 k612_libvirt \
		--module "$ROOT/.cache/k612-build/src/kvm-persona.ko"

	step "Linux 6.12 test host: DKMS against the 6.12 kernel's tree"
	testhost_script_run scripts/dkms-check.sh 1200 k612_dkms \
		--kdir "$K612_KDIR"
	TESTHOST_ARGS=()
fi
P612=$((PASS - P61)) F612=$((FAIL - F61)) S612=$((SKIP - S61))

step "anchor kernel (CONFIG_KVM_XEN): the module must refuse to load"
anchor_refuses()
{
	local out
	scripts/deps.sh --anchor || return 1
	# shellcheck disable=SC1091
	. .cache/env.sh
	make -s module-anchor W=1 || return 1
	out=$(scripts/testhost.sh --kernel-dir "$ANCHOR_KERNEL" --timeout 600 -- \
		'insmod .cache/anchor-build/src/kvm-persona.ko; echo "insmod=$?";
		 grep -c "^kvm_persona " /proc/modules;
		 dmesg | grep "kvm_persona: kvm.ko already implements"' 2>&1)
	echo "$out"
	echo "$out" | grep -q '^insmod=1' &&
		echo "$out" | grep -qx '0' &&
		echo "$out" | grep -q 'already implements the Xen ABI (KVM_CAP_XEN_HVM=0x'
}
host_test anchor_kernel_refuses_module anchor_refuses

step "the machine's kernels"
no_kernel_package_installed()
{
	local after
	after=$(kernel_packages)
	[ "$after" = "$KPKGS_BEFORE" ] && return 0
	echo "kernel packages changed during the run:"
	diff <(echo "$KPKGS_BEFORE") <(echo "$after")
	return 1
}
host_test no_kernel_package_installed no_kernel_package_installed

echo "# Linux 6.1 (and the checks of the tree): $((PASS - P612)) passed," \
     "$((FAIL - F612)) failed, $((SKIP - S612)) skipped"
echo "# Linux 6.12 without CONFIG_KVM_XEN: $P612 passed, $F612 failed," \
     "$S612 skipped"
echo "1..$N"
if [ "$SKIP" -ne 0 ]; then
	echo "$PASS passed, $FAIL failed, $SKIP skipped"
else
	echo "$PASS passed, $FAIL failed"
fi
[ "$FAIL" -eq 0 ]
