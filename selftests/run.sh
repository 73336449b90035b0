#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kvm-persona selftests.  Runs INSIDE the test host (as root, with
# kvm and kvm_amd/kvm_intel loaded and kvm_persona not loaded), normally as
# "scripts/testhost.sh -- selftests/run.sh" from the project root, after
# "make" and "make -C selftests".
#
#   1. without the module: upstream xen_vmcall_test must skip (exit 4),
#      KVM_CAP_XEN_HVM must be 0, our tests skip, the baseline upstream
#      Hyper-V/KVM tests pass;
#   2. insmod src/kvm-persona.ko: xen_vmcall_test passes, our tests pass
#      (a skip counts as a failure here), the baselines still pass; once
#      the module advertises KVM_XEN_HVM_CONFIG_SHARED_INFO, the
#      shared_info milestone's tests (SHINFO_TESTS) pass and upstream
#      xen_shinfo_test passes SHINFO_UPSTREAM_RUNS times in a row (until
#      then they are reported as skipped);
#   3. rmmod with no VM left, stock behaviour is back, reload, everything
#      passes again; rmmod is refused while a process holds a Xen VM and
#      works once that process is gone;
#   4. the kernel log since the start has no warnings.
#
# Output is KTAP: "TAP version 13", one "ok N name", "not ok N name" or
# "ok N name # SKIP reason" line per result (each test program's own
# output, and the subtests of our kselftest-harness programs, are turned
# into results of their own; everything else is "# " diagnostics), the
# plan "1..N" once everything ran, and last the line
# "P passed, F failed, S skipped".  Exit status 0 iff F is 0.
#
# Environment:
#   KVM_PERSONA_KO            module (default: src/kvm-persona.ko)
#   KVM_PERSONA_SELFTESTS_OUT build output (default: selftests/out)
#   KVM_PERSONA_UPSTREAM      the upstream tests' directory (default:
#                             $KVM_PERSONA_SELFTESTS_OUT/upstream/x86_64):
#                             the suites of the series under test, e.g.
#                             6.12's from selftests/out-612 on a 6.12 host
#   KVM_PERSONA_TIMEOUT       seconds per test program (default: 900)
#   KVM_PERSONA_STRESS_ITERS  iterations of the VM teardown stress test
#                             (default: the test's own, 100)
#   FUZZ_HCALLS, FUZZ_SEED    passed to the fuzzers (FUZZ_TESTS): guest
#                             hypercalls per run (default: the fuzzer's,
#                             10^5) and the seed (default: from the clock)
#   FUZZ_IOCTLS, FUZZ_VMS     xen_fuzz_vmm's ioctls (default 10^4) and
#                             xen_fuzz_lifecycle's VMs (default 24)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

OUT=${KVM_PERSONA_SELFTESTS_OUT:-$ROOT/selftests/out}
KO=${KVM_PERSONA_KO:-$ROOT/src/kvm-persona.ko}
TIMEOUT=${KVM_PERSONA_TIMEOUT:-900}
MODNAME=kvm_persona
UPSTREAM=${KVM_PERSONA_UPSTREAM:-$OUT/upstream/x86_64}

# Our kselftest-harness programs.
OWN_TESTS="xen_caps_test xen_config_test xen_hcall_page_test xen_hcall_test"
# Upstream tests that do not involve Xen and must not notice the module.
BASELINE_TESTS="hyperv_features hyperv_clock hyperv_cpuid kvm_pv_test
		fix_hypercall_test"
# The shared_info milestone (shared_info, vcpu_info, runstate, 2-level
# event channels, timers, SCHEDOP_poll): our kselftest-harness programs,
# and upstream xen_shinfo_test run SHINFO_UPSTREAM_RUNS times.  Run in
# phase 2 only if the module's KVM_CAP_XEN_HVM has SHARED_INFO (bit 2),
# otherwise each is reported as skipped.
SHINFO_TESTS="xen_shinfo_attr_test xen_evtchn_test xen_timer_poll_test
	      xen_interdomain_test xen_grant_test xen_observe_test"
SHINFO_UPSTREAM_RUNS=3
# Not as SCHED_FIFO, though that closes a race of the test.  Right
# after RUNSTATE_DATA zeroes the runnable time, its guest asserts that it
# is still 0, so a wait of its vCPU thread for a CPU in between (stolen
# time, runnable in Xen, upstream KVM and here) fails it.  In the test
# host, a kworker or rcu_sched preempts a SCHED_OTHER test about once a
# run and now and then in that window, on upstream kvm.ko's own Xen too
# (scripts/shinfo-preempt.sh, Documentation/testing.rst); CFS tasks cannot
# preempt SCHED_FIFO.  The assertions are unchanged, and its steal-time
# check still sees stolen time.  Without the fair server (6.1), a FIFO
# vCPU spinning in its guest starves the CFS kworkers that inject some of
# its interrupts, and the test's 1 s delivery alarms fire: SCHED_OTHER.
# That was tried on 6.12 and withdrawn: one FIFO run in CI hung past
# 5 minutes (testing.rst).  Until that is understood, SCHED_OTHER.
SHINFO_UPSTREAM_SCHED=()
# The fuzzers, in phase 2 with the same condition; they print their seed.
FUZZ_TESTS="xen_fuzz_guest xen_fuzz_vmm xen_fuzz_lifecycle xen_fuzz_domains"
SHINFO_CAP=4	# KVM_XEN_HVM_CONFIG_SHARED_INFO

N=0
PASS=0
FAIL=0
SKIP=0
HOLDER_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvm-persona-selftests.XXXXXX") || exit 1

cleanup()
{
	if [ -n "$HOLDER_PID" ]; then
		kill -KILL "$HOLDER_PID" 2>/dev/null
		wait "$HOLDER_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

diag() { sed -u 's/^/# /'; }
note() { echo "# $*"; }
phase() { echo "# ==== $* ($(date +%T))"; }

ok()      { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N $1"; }
not_ok()  { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N $1"; }
skipped() { N=$((N + 1)); SKIP=$((SKIP + 1)); echo "ok $N $1 # SKIP $2"; }
check()   { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }

module_loaded() { grep -q "^$MODNAME " /proc/modules; }

# Run a program with a time limit, its output (stdout and stderr) shown as
# diagnostics as it comes and kept in $WORK/$1.log; $RC is its status.
run_prog()
{
	local name=$1
	shift
	LOG=$WORK/$name.log
	note "\$ $*"
	timeout -k 10 "$TIMEOUT" "$@" </dev/null 2>&1 | tee "$LOG" | diag
	RC=${PIPESTATUS[0]}
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		note "$name: timed out after ${TIMEOUT}s"
	fi
}

# A plain upstream selftest: exit 0 is a pass, 4 (KSFT_SKIP) a skip.
run_upstream()
{
	local name=$1 prog=$UPSTREAM/$2
	shift 2
	if [ ! -x "$prog" ]; then
		not_ok "$name"
		note "$prog: missing (run make -C selftests)"
		return
	fi
	run_prog "$name" "$prog"
	case $RC in
	0) ok "$name" ;;
	4) skipped "$name" "$(grep -m1 -o 'SKIP.*' "$LOG" | tr -d '#')" ;;
	*) not_ok "$name"; note "$name: exit status $RC" ;;
	esac
}

# An upstream selftest that must end with exit status $3; the remaining
# arguments, if any, are a command it runs under (e.g. chrt -f 1).
expect_upstream()
{
	local name=$1 prog=$UPSTREAM/$2 want=$3
	shift 3
	if [ ! -x "$prog" ]; then
		not_ok "$name"
		note "$prog: missing (run make -C selftests)"
		return
	fi
	run_prog "$name" "$@" "$prog"
	if [ "$RC" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name"
		note "$name: exit status $RC, expected $want"
	fi
}

# One of our kselftest-harness programs: each subtest becomes a result
# named PREFIX.PROGRAM.SUBTEST.  With $2 = "module", a skipped subtest is a
# failure (the tests also fail instead of skipping: KVM_PERSONA_REQUIRE).
# Subtests the program planned but never reported (crash, time-out) fail.
run_own()
{
	local prefix=$1 mode=$2 prog=$3 name planned=0 seen=0 failed=0
	local cur='' line
	local id=$prefix.$prog
	if [ ! -x "$OUT/$prog" ]; then
		not_ok "$id"
		note "$OUT/$prog: missing (run make -C selftests)"
		return
	fi
	if [ "$mode" = module ]; then
		run_prog "$id" env KVM_PERSONA_REQUIRE=1 "$OUT/$prog"
	else
		run_prog "$id" env -u KVM_PERSONA_REQUIRE "$OUT/$prog"
	fi
	while IFS= read -r line; do
		case $line in
		1..*)
			planned=${line#1..}
			;;
		"#  RUN "*)
			cur=$(echo "$line" | awk '{ print $3 }')
			cur=${cur#global.}
			;;
		"ok "[0-9]*" # SKIP"*)
			seen=$((seen + 1))
			name=$id.$cur
			if [ "$mode" = module ]; then
				failed=$((failed + 1))
				not_ok "$name"
				note "$name: skipped with the module loaded:" \
				     "${line#*# SKIP}"
			else
				skipped "$name" "${line#*# SKIP }"
			fi
			;;
		"ok "[0-9]*)
			seen=$((seen + 1))
			ok "$id.$cur"
			;;
		"not ok "[0-9]*)
			seen=$((seen + 1))
			failed=$((failed + 1))
			not_ok "$id.$cur"
			;;
		esac
	done <"$LOG"
	if ! [[ $planned =~ ^[0-9]+$ ]] || [ "$planned" = 0 ]; then
		not_ok "$id"
		note "$id: no test plan in the output (exit status $RC)"
		return
	fi
	while [ "$seen" -lt "$planned" ]; do
		seen=$((seen + 1))
		failed=$((failed + 1))
		not_ok "$id.missing_result_$seen"
		note "$id: subtest $seen of $planned never reported" \
		     "(exit status $RC)"
	done
	if [ "$RC" != 0 ] && [ "$failed" = 0 ]; then
		not_ok "$id.exit_status"
		note "$id: exit status $RC with no failed subtest"
	fi
}

# KVM_CAP_XEN_HVM as hold_xen_vm --caps reports it (0x...), or "".
xen_cap()
{
	local cap
	cap=$("$OUT/hold_xen_vm" --caps 2>/dev/null | tail -n 1)
	[[ $cap =~ ^0x[0-9a-f]+$|^0$ ]] && echo "$cap"
}

do_insmod()
{
	local name=$1
	if [ ! -f "$KO" ]; then
		not_ok "$name"
		note "$KO: missing (run make)"
		return
	fi
	if insmod "$KO" >"$WORK/insmod.log" 2>&1 && module_loaded; then
		ok "$name"
	else
		not_ok "$name"
		diag <"$WORK/insmod.log"
	fi
}

# rmmod, retried for a few seconds: a VM's last reference may go away
# just after the process that held it was reaped.
do_rmmod()
{
	local name=$1
	for _ in $(seq 1 20); do
		rmmod "$MODNAME" >"$WORK/rmmod.log" 2>&1
		module_loaded || break
		sleep 0.5
	done
	if module_loaded; then
		not_ok "$name"
		diag <"$WORK/rmmod.log"
	else
		ok "$name"
	fi
}

# A process holding a Xen VM (vCPU stopped in KVM_EXIT_XEN) pins the
# module: rmmod must fail with EBUSY, and succeed once the process is gone.
holder_test()
{
	local log=$WORK/hold.log rc
	"$OUT/hold_xen_vm" >"$log" 2>&1 </dev/null &
	HOLDER_PID=$!
	for _ in $(seq 1 600); do
		grep -q '^READY' "$log" && break
		kill -0 "$HOLDER_PID" 2>/dev/null || break
		sleep 0.2
	done
	if ! grep -q '^READY' "$log"; then
		not_ok rmmod_refused_while_xen_vm_held
		note "hold_xen_vm never got ready:"
		diag <"$log"
	else
		rmmod "$MODNAME" >"$WORK/rmmod_busy.log" 2>&1
		rc=$?
		diag <"$WORK/rmmod_busy.log"
		if [ "$rc" != 0 ] && module_loaded &&
		   grep -qiE 'in use|busy' "$WORK/rmmod_busy.log"; then
			ok rmmod_refused_while_xen_vm_held
		else
			not_ok rmmod_refused_while_xen_vm_held
			note "rmmod status $rc; module loaded:" \
			     "$(module_loaded && echo yes || echo no)"
		fi
	fi
	kill -TERM "$HOLDER_PID" 2>/dev/null
	wait "$HOLDER_PID" 2>/dev/null
	HOLDER_PID=
	if module_loaded; then
		do_rmmod rmmod_after_holder_exits
	else
		not_ok rmmod_after_holder_exits
		note "the module was already gone"
	fi
}

own_tests()
{
	local prefix=$1 mode=$2 t
	for t in $OWN_TESTS; do
		run_own "$prefix" "$mode" "$t"
	done
}

# The shared_info milestone's tests, if KVM_CAP_XEN_HVM ($2) offers it.
shinfo_tests()
{
	local prefix=$1 cap=$2 t n
	local why="module does not advertise SHARED_INFO yet"
	if [ -z "$cap" ] || [ $((cap & SHINFO_CAP)) = 0 ]; then
		for t in $SHINFO_TESTS; do
			skipped "$prefix.$t" "$why"
		done
		for n in $(seq 1 "$SHINFO_UPSTREAM_RUNS"); do
			skipped "$prefix.upstream_xen_shinfo_test.$n" "$why"
		done
		return
	fi
	for t in $SHINFO_TESTS; do
		run_own "$prefix" module "$t"
	done
	note "upstream xen_shinfo_test: ${SHINFO_UPSTREAM_SCHED[*]:-SCHED_OTHER}"
	for n in $(seq 1 "$SHINFO_UPSTREAM_RUNS"); do
		expect_upstream "$prefix.upstream_xen_shinfo_test.$n" \
			xen_shinfo_test 0 "${SHINFO_UPSTREAM_SCHED[@]}"
	done
}

fuzz_tests()
{
	local prefix=$1 cap=$2 t
	if [ -z "$cap" ] || [ $((cap & SHINFO_CAP)) = 0 ]; then
		for t in $FUZZ_TESTS; do
			skipped "$prefix.$t" "module does not advertise SHARED_INFO yet"
		done
		return
	fi
	note "fuzzers: FUZZ_HCALLS=${FUZZ_HCALLS:-default}" \
	     "FUZZ_IOCTLS=${FUZZ_IOCTLS:-default} FUZZ_VMS=${FUZZ_VMS:-default}" \
	     "FUZZ_SEED=${FUZZ_SEED:-random}"
	# xen_fuzz_lifecycle unloads and reloads the module; it leaves it loaded.
	export KVM_PERSONA_KO="$KO"
	for t in $FUZZ_TESTS; do
		run_own "$prefix" module "$t"
	done
}

baselines()
{
	local prefix=$1 t
	# shellcheck disable=SC2086
	for t in $BASELINE_TESTS; do
		run_upstream "$prefix.$t" "$t"
	done
}

echo "TAP version 13"
note "kvm-persona selftests on $(uname -r), $(nproc) CPUs," \
     "kvm vendor module: $(grep -oE '^kvm_(amd|intel)' /proc/modules | head -n1)"
note "module: $KO; upstream suites: $UPSTREAM"
if [ -w /dev/kmsg ]; then
	MARK="kvm-persona selftests start $$ $(date +%s)"
	echo "$MARK" >/dev/kmsg
else
	MARK=
fi
for cmd in insmod rmmod timeout; do
	command -v "$cmd" >/dev/null || note "warning: $cmd not found"
done

phase "0: initial state"
if module_loaded; then
	note "$MODNAME is loaded; unloading it"
	rmmod "$MODNAME" 2>&1 | diag
fi
if module_loaded; then
	not_ok module_not_loaded_at_start
else
	ok module_not_loaded_at_start
fi

phase "1: stock kvm.ko, no module"
cap=$(xen_cap)
if [ "$cap" = 0x0 ] || [ "$cap" = 0 ]; then
	ok no_module.xen_cap_absent
else
	not_ok no_module.xen_cap_absent
	note "KVM_CAP_XEN_HVM is '$cap' without the module"
fi
expect_upstream upstream_xen_vmcall_skips_without_module xen_vmcall_test 4
own_tests no_module stock
baselines no_module

phase "2: module loaded"
do_insmod insmod_kvm_persona
cap=$(xen_cap)
if [ -n "$cap" ] && [ $((cap & 3)) = 3 ]; then
	ok module.xen_cap_present
	note "KVM_CAP_XEN_HVM is $cap"
else
	not_ok module.xen_cap_present
	note "KVM_CAP_XEN_HVM is '$cap' with the module"
fi
expect_upstream upstream_xen_vmcall_passes_with_module xen_vmcall_test 0
own_tests module module
shinfo_tests module "$cap"
fuzz_tests module "$cap"
baselines module

phase "3: unload, reload, pinning"
do_rmmod rmmod_without_vms
cap=$(xen_cap)
if [ "$cap" = 0x0 ] || [ "$cap" = 0 ]; then
	ok unloaded.xen_cap_absent
else
	not_ok unloaded.xen_cap_absent
	note "KVM_CAP_XEN_HVM is '$cap' after rmmod"
fi
expect_upstream upstream_xen_vmcall_skips_after_rmmod xen_vmcall_test 4
run_upstream unloaded.kvm_pv_test kvm_pv_test
run_upstream unloaded.fix_hypercall_test fix_hypercall_test
do_insmod reinsmod_kvm_persona
expect_upstream upstream_xen_vmcall_passes_after_reload xen_vmcall_test 0
own_tests reloaded module
holder_test

phase "4: kernel log"
if [ -n "$MARK" ]; then
	dmesg | sed -n "/$MARK/,\$p" >"$WORK/dmesg.log" 2>/dev/null
	BAD='WARNING:|BUG:|Oops|general protection fault|Call Trace|lockdep|possible circular locking|kmemleak|soft lockup|hung_task|refcount_t|UBSAN|KASAN'
	if grep -E "$BAD" "$WORK/dmesg.log" | grep -qv 'Unhandled WRMSR'; then
		not_ok kernel_log_clean
		grep -E -B3 -A30 "$BAD" "$WORK/dmesg.log" | head -n 120 | diag
	else
		ok kernel_log_clean
	fi
else
	skipped kernel_log_clean "/dev/kmsg not writable"
fi
if module_loaded; then
	note "$MODNAME is still loaded"
fi

echo "1..$N"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
