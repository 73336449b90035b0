#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Record where L2 guests triple-fault.  Runs inside the test host (L1), as
# root.  A triple fault is a shutdown exit to KVM (SVM_EXIT_SHUTDOWN, VMX's
# EXIT_REASON_TRIPLE_FAULT), which KVM reports to the VMM as
# KVM_EXIT_SHUTDOWN, QEMU as a "guest-reset"; on SVM the VMCB is undefined
# afterwards and KVM resets the vCPU, so the guest's registers at the fault
# are gone by the time the VMM looks.  The kvm_exit tracepoint still has
# them: this keeps a tracing instance that records shutdown exits only (a
# filter, so the other exits cost little) with their RIP and exit info.
#
#   scripts/l2-shutdowns.sh start    begin recording (idempotent)
#   scripts/l2-shutdowns.sh show     print what was recorded, one line per
#                                    shutdown ("" if none), and clear it
#   scripts/l2-shutdowns.sh stop     remove the instance
#
# With L2_HISTORY=1, "start" also keeps a second instance that records
# every exit, entry and injection of every vCPU in a small ring and stops
# at the first shutdown exit, so that "show" can print what led to it
# (that vCPU's last 60 events).  It slows every exit: experiments only.
#
# Exits 0 even where tracing is unavailable (it then records nothing).
set -u

T=/sys/kernel/tracing
[ -d $T/instances ] || T=/sys/kernel/debug/tracing
I=$T/instances/persona-l2-shutdown
EV=$I/events/kvm/kvm_exit
H=$T/instances/persona-l2-history
# SVM_EXIT_SHUTDOWN is 0x7f, EXIT_REASON_TRIPLE_FAULT 2 (on AMD that is a
# CR2 read, which KVM does not intercept with NPT).
SHUTDOWN='exit_reason == 127 || exit_reason == 2'

case ${1:-} in
start)
	[ -d $T/instances ] || exit 0
	[ -d $I ] || mkdir $I 2>/dev/null || exit 0
	[ -d $EV ] || exit 0
	echo "$SHUTDOWN" >$EV/filter
	echo 1 >$EV/enable
	echo 1 >$I/tracing_on
	if [ "${L2_HISTORY:-0}" = 1 ] && { [ -d $H ] || mkdir $H 2>/dev/null; }; then
		echo 256 >$H/buffer_size_kb
		for e in kvm_exit kvm_entry kvm_inj_virq kvm_inj_exception \
			 kvm_page_fault kvm_hypercall kvm_xen_hypercall; do
			[ ! -d $H/events/kvm/$e ] || echo 1 >$H/events/kvm/$e/enable
		done
		echo "traceoff if $SHUTDOWN" \
			>$H/events/kvm/kvm_exit/trigger
		echo 1 >$H/tracing_on
	fi
	;;
show)
	[ -r $I/trace ] || exit 0
	out=$(grep -v '^#' $I/trace | sed 's/^ *//')
	echo >$I/trace
	[ -n "$out" ] || exit 0
	echo "$out"
	if [ -d $H ] && [ "$(cat $H/tracing_on)" = 0 ]; then
		# The thread that hit the shutdown: its last events.
		tid=$(grep -v '^#' $H/trace | grep -iE 'kvm_exit: .*reason (shutdown|triple_fault)' |
			tail -n 1 | sed 's/^ *[^ ]*-\([0-9]*\) .*/\1/')
		echo "history of thread $tid:"
		grep -v '^#' $H/trace | grep -- "-$tid " | tail -n 60 | sed 's/^ */  /'
		echo >$H/trace
		echo 1 >$H/tracing_on
	fi
	;;
stop)
	[ -d $I ] || exit 0
	echo 0 >$EV/enable 2>/dev/null
	rmdir $I 2>/dev/null
	if [ -d $H ]; then
		echo "!traceoff if $SHUTDOWN" \
			>$H/events/kvm/kvm_exit/trigger 2>/dev/null
		echo 0 >$H/events/enable 2>/dev/null
		rmdir $H 2>/dev/null
	fi
	;;
*)
	echo "usage: $0 start|show|stop" >&2
	exit 2
	;;
esac
exit 0
