#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make fuzz: the four fuzzers at full size, in one debug test host
# (KASAN, kmemleak, lockdep, UBSAN: scripts/debug-kernel.sh), with the
# module built against it (make module-debug):
#
#   xen_fuzz_guest      FUZZ_HCALLS guest hypercalls (default 10^6)
#   xen_fuzz_vmm        FUZZ_IOCTLS VMM ioctls (default 10^5)
#   xen_fuzz_lifecycle  FUZZ_VMS Xen VMs created and destroyed, VMMs
#                       killed, rmmod tried (default 200)
#   xen_fuzz_domains    FUZZ_HCALLS interdomain event channel and grant
#                       copy hypercalls between VMs that come and go
#
# FUZZ_SEED= replays a run (each fuzzer prints its seed first).  Prints
# each fuzzer's own output, the counts, the verdict on the test host's
# kernel log (any KASAN, lockdep, UBSAN, kmemleak or other report fails
# the run), and last "N passed, N failed".  Exit status 0 iff all passed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

[ -e .cache/debug-env.sh ] || { echo "fuzz: run make debug-kernel" >&2; exit 1; }
# shellcheck disable=SC1091
. .cache/debug-env.sh
KO=.cache/debug-build/src/kvm-persona.ko
[ -e "$KO" ] || { echo "fuzz: run make module-debug" >&2; exit 1; }

HCALLS=${FUZZ_HCALLS:-1000000}
IOCTLS=${FUZZ_IOCTLS:-100000}
VMS=${FUZZ_VMS:-200}
FUZZERS="xen_fuzz_guest xen_fuzz_vmm xen_fuzz_lifecycle xen_fuzz_domains"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "TAP version 13"
echo "# fuzz: FUZZ_HCALLS=$HCALLS FUZZ_IOCTLS=$IOCTLS FUZZ_VMS=$VMS" \
     "FUZZ_SEED=${FUZZ_SEED:-random}, on $(basename "$DEBUG_KERNEL")"
start=$(date +%s)
# shellcheck disable=SC2016 # expanded inside the test host
scripts/testhost.sh --kernel-dir "$DEBUG_KERNEL" \
	--timeout "${FUZZ_TIMEOUT:-14400}" -- \
	env FUZZ_HCALLS="$HCALLS" FUZZ_IOCTLS="$IOCTLS" FUZZ_VMS="$VMS" \
	FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-14400}" ${FUZZ_SEED:+FUZZ_SEED=$FUZZ_SEED} \
	KVM_PERSONA_KO="$KO" KVM_PERSONA_REQUIRE=1 FUZZERS="$FUZZERS" \
	bash -c 'set -o pipefail
		insmod "$KVM_PERSONA_KO" || exit 1
		fail=0
		for t in $FUZZERS; do
			if selftests/out/$t 2>&1 | sed "s/^/# /"; then
				echo "ok - $t"
			else
				echo "not ok - $t"
				fail=1
			fi
		done
		exit $fail' | tee "$log"
rc=${PIPESTATUS[0]}

pass=$(grep -c '^ok - ' "$log")
fail=$(grep -c '^not ok - ' "$log")
case $rc in
0|1) ;;
123)
	echo "not ok - kernel_log_clean # a report in the test host's kernel log"
	fail=$((fail + 1)) ;;
*)
	echo "not ok - testhost # status $rc (122: panic, 124: timed out)"
	fail=$((fail + 1)) ;;
esac
[ "$rc" -eq 123 ] || [ "$rc" -gt 1 ] || {
	echo "ok - kernel_log_clean"
	pass=$((pass + 1))
}

echo "# counts:"
grep -ahoE '(fuzz_guest|fuzz_vmm|fuzz_lifecycle): [a-z_]+=[0-9].*' "$log" |
	sed 's/^/#   /'
echo "# $(($(date +%s) - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
