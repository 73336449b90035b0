# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by scripts/guest-check.sh and scripts/libvirt-check.sh: what the
# demo guest must report in each personality, and the checks of one boot's
# facts file.  A facts file holds the guest's "PERSONA-FACT key=value"
# lines without the prefix, then the host's own facts as host_KEY=value
# (scripts/guest-boot.sh writes them; libvirt-check.sh writes the same keys
# from what libvirt saw).
#
# The caller defines ok NAME and not_ok NAME [REASON], which print and
# count one KTAP result each.
#
#   fact FILE KEY                       KEY's last value in FILE, or "none"
#   check NAME GOT WANT                 one result: GOT must equal WANT
#   facts_check_boot PREFIX MODE FACTS KVER SMP
#                                       the facts of one boot: per-mode
#                                       hypervisor, clocksource, devices,
#                                       event channels..., the kernel (KVER),
#                                       vCPUs (SMP), the root-disk write, the
#                                       network round trip and the guest's own
#                                       poweroff; results PREFIX.MODE.KEY
#   facts_check_unimp PREFIX LOG        Xen mode: the hypercalls QEMU's log
#                                       (-d unimp) names beyond the one it
#                                       names with upstream KVM too

# What each mode must show.  Keys are the guest's PERSONA-FACT names.
# shellcheck disable=SC2034 # read by the functions below
declare -A GUEST_WANT=(
	[xen.hypervisor]="Xen HVM"
	[xen.clocksource]=xen
	[xen.clockevent]=xen
	[xen.pv_spinlocks]=xen
	[xen.rootdev]=/dev/xvda
	[xen.nic_driver]=vif
	[xen.evtchn]=2-level
	[xen.evtchn_upcall]=vector
	[xen.gnttab]=v1
	[hyperv.hypervisor]="Microsoft Hyper-V"
	[hyperv.clocksource]=hyperv_clocksource_tsc_page
	[hyperv.rootdev]=/dev/vda
	[hyperv.nic_driver]=virtio_net
	[hyperv.evtchn]=none
	[kvm.hypervisor]=KVM
	[kvm.clocksource]=kvm-clock
	[kvm.rootdev]=/dev/vda
	[kvm.nic_driver]=virtio_net
	[kvm.evtchn]=none
)
GUEST_CHECKS=(hypervisor clocksource clockevent rootdev nic_driver evtchn
	evtchn_upcall gnttab pv_spinlocks)

fact()
{
	local v
	v=$(sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1) || true
	echo "${v:-none}"
}

check()
{
	local name=$1 got=$2 want=$3
	if [ "$got" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "got '$got', want '$want'"
	fi
}

facts_check_boot()
{
	local prefix=$1 mode=$2 facts=$3 kver=$4 smp=$5 key
	for key in "${GUEST_CHECKS[@]}"; do
		[ -n "${GUEST_WANT[$mode.$key]+set}" ] || continue
		check "$prefix.$mode.$key" "$(fact "$facts" "$key")" "${GUEST_WANT[$mode.$key]}"
	done
	# The kernel the image was built from (its manifest) is the one
	# that ran: the 32-bit image's checks are about a 32-bit guest.
	check "$prefix.$mode.kernel" "$(fact "$facts" kernel)" "$kver"
	check "$prefix.$mode.vcpus" "$(fact "$facts" vcpus)" "$smp"
	check "$prefix.$mode.root_write" "$(fact "$facts" root_write)" ok
	check "$prefix.$mode.net" "$(fact "$facts" net)" ok
	check "$prefix.$mode.shutdown" "$(fact "$facts" host_shutdown)" guest-poweroff
}

facts_check_unimp()
{
	local prefix=$1 log=$2 unexpected
	# The guest's hypercalls that reach QEMU and that QEMU does not
	# implement.  vm_assist (21) is one with upstream KVM too; any
	# other means a call the module should have handled, or routed
	# differently from upstream.
	unexpected=$(grep -a 'Unimplemented Xen hypercall' "$log" 2>/dev/null |
		grep -av 'hypercall 21 ' | sort | uniq -c | tr -s ' \n' ' ;' | head -c 300) || true
	check "$prefix.xen.unimplemented_hypercalls" "${unexpected:-none}" none
}
