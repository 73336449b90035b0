#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Reproducer for a race in upstream xen_shinfo_test, not in the module.
#
# After KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA sets a vCPU's runnable time to
# 0, the test's guest asserts rs->time[RUNSTATE_runnable] == 0.  Any time
# the vCPU thread waits for a host CPU between that ioctl and the guest's
# read is stolen time, which Xen and upstream KVM (and we) account as
# runnable: a preemption of the test in that window fails it.  In the test
# host, housekeeping kthreads (rcu_sched, kworkers) preempt the test about
# once a run, so the window is hit now and then; this script makes it
# likely with a competitor, cpu_burst, pinned to the test's CPU at nice
# -20, and runs the test under both scheduling policies: SCHED_OTHER, and
# SCHED_FIFO, which CFS tasks cannot preempt (run.sh tried it and withdrew it).
#
# Runs INSIDE the test host, as root, from the project root, with the
# module loaded (or on the anchor kernel, for upstream kvm.ko's own Xen):
#
#   scripts/testhost.sh --kernel-dir DIR -- \
#	'insmod M.ko && scripts/shinfo-preempt.sh [RUNS]'
#
# RUNS (default 10) per policy.  Environment: KVM_PERSONA_UPSTREAM (the
# upstream tests' directory, as for run.sh), BURST_ON_US and BURST_OFF_US
# (cpu_burst's duty cycle, default 1000 and 1000), POLICIES (default
# "other fifo").  A run is killed after 120 s (exit 124).  Prints one line
# per run and per policy "POLICY: F of N failed, A at the runnable-time
# assertion"; exits 0 once every run ran.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
UPSTREAM=${KVM_PERSONA_UPSTREAM:-$ROOT/selftests/out/upstream/x86_64}
TEST=$UPSTREAM/xen_shinfo_test
BURST=$ROOT/selftests/out/cpu_burst
RUNS=${1:-10}
ON=${BURST_ON_US:-1000}
OFF=${BURST_OFF_US:-1000}
LOG=$(mktemp) || exit 1
BURST_PID=

cleanup()
{
	[ -n "$BURST_PID" ] && kill "$BURST_PID" 2>/dev/null
	rm -f "$LOG"
}
trap cleanup EXIT

for f in "$TEST" "$BURST"; do
	if [ ! -x "$f" ]; then
		echo "$f: missing (run make -C selftests)" >&2
		exit 1
	fi
done

# $1: policy name, $2...: the command prefix that sets it.
runs()
{
	local policy=$1 i rc fail=0 at=0 start end
	shift
	for i in $(seq 1 "$RUNS"); do
		start=$(date +%s%N)
		timeout -k 10 120 taskset -c 0 "$@" "$TEST" >"$LOG" 2>&1 </dev/null
		rc=$?
		end=$(date +%s%N)
		if [ "$rc" != 0 ]; then
			fail=$((fail + 1))
			grep -q 'time\[1\] == 0' "$LOG" && at=$((at + 1))
		fi
		echo "$policy run $i: exit $rc, $(((end - start) / 1000000)) ms" \
			"$(grep -m1 -o 'xen_shinfo_test.c:[0-9]*: .*' "$LOG")"
	done
	echo "$policy: $fail of $RUNS failed, $at at the runnable-time assertion"
}

nice -n -20 taskset -c 0 "$BURST" "$ON" "$OFF" &
BURST_PID=$!
echo "cpu_burst on CPU 0 at nice -20: ${ON} us on, ${OFF} us off"
for p in ${POLICIES:-other fifo}; do
	case $p in
	other)
		runs SCHED_OTHER env
		;;
	fifo)
		# As run.sh: without the fair server, FIFO starves kworkers.
		if [ -d /sys/kernel/debug/sched/fair_server ]; then
			runs SCHED_FIFO chrt -f 1
		else
			echo "SCHED_FIFO: not run (no fair server in this kernel)"
		fi
		;;
	*)
		echo "unknown policy $p" >&2
		exit 2
		;;
	esac
done
