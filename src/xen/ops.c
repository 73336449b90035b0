// SPDX-License-Identifier: GPL-2.0
/*
 * The Xen personality's operations (core/personality.h): what each hooked
 * kvm.ko entry point means for a Xen VM, in terms of the subsystems of
 * this folder.
 */
#include <linux/kvm_host.h>
#include <asm/hyperv-tlfs.h>

#include "../core/personality.h"
#include "../hyperv/hyperv.h"
#include "../kvm/boundary.h"
#include "debugfs.h"
#include "domain.h"
#include "evtchn.h"
#include "hypercall.h"
#include "interdomain.h"
#include "shinfo.h"
#include "timer.h"
#include "uapi.h"
#include "vm.h"
#include "xen.h"

static struct persona_xen_vm *to_xen(struct persona_vm *vm)
{
	return container_of(vm, struct persona_xen_vm, vm);
}

static bool xen_check_extension(long ext, int *r)
{
	if (ext != KVM_CAP_XEN_HVM)
		return false;
	*r = persona_xen_caps();
	return true;
}

static bool xen_routing_claims(u32 type)
{
	return type == KVM_IRQ_ROUTING_XEN_EVTCHN;
}

/* Routing type 5; the route's callback is ours: the VM now pins the module. */
static int xen_set_routing_entry(struct kvm *kvm,
				 struct kvm_kernel_irq_routing_entry *e,
				 const struct kvm_irq_routing_entry *ue)
{
	struct persona_xen_vm *pvm;
	int r;

	r = persona_evtchn_route_check(ue);
	if (r)
		return r;
	pvm = persona_vm_get_or_create(kvm);
	if (IS_ERR(pvm))
		return PTR_ERR(pvm);
	return persona_evtchn_setup_route(pvm, e, ue);
}

static void xen_vm_teardown(struct persona_vm *vm)
{
	/* No reader of its debugfs files is left once this returns. */
	persona_debugfs_vm_remove(to_xen(vm));
	/* Other domains' links to this one go first. */
	persona_idc_vm_teardown(to_xen(vm));
	persona_vm_teardown(to_xen(vm));
}

/*
 * A VMCALL/VMMCALL is Xen's once the VMM asked for interception, unless
 * it is a Hyper-V hypercall made through the Xen-aware Hyper-V page.
 */
static bool xen_hypercall(struct persona_vm *vm, struct kvm_vcpu *vcpu,
			  int *r)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	if (!persona_xen_intercepts(pvm) || persona_hv_claims_hypercall(vcpu))
		return false;
	*r = persona_xen_hypercall(pvm, vcpu);
	return true;
}

/* The hypercall-page MSR is ours; every other MSR is kvm.ko's. */
static bool xen_set_msr(struct persona_vm *vm, struct kvm_vcpu *vcpu,
			struct msr_data *msr, int *r)
{
	struct persona_xen_vm *pvm = to_xen(vm);
	u32 index = msr->index;

	if (!index || index != READ_ONCE(pvm->msr))
		return false;
	*r = persona_xen_write_hypercall_page(pvm, vcpu, msr->data);
	return true;
}

static void xen_msr_written(struct persona_vm *vm, struct kvm_vcpu *vcpu,
			    u32 index, u64 data)
{
	if (index == HV_X64_MSR_HYPERCALL && persona_xen_intercepts(to_xen(vm)))
		persona_hv_hypercall_msr_written(vcpu, data);
}

/*
 * KVM_RUN: the VMM may have changed guest memory (e.g. set
 * evtchn_upcall_pending) or mappings while the vCPU was out.
 */
static void xen_run_enter(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	if (persona_vcpu_xen_ready(pvm, vcpu)) {
		persona_runstate_sync(pvm, vcpu);
		persona_upcall_recheck(pvm, vcpu);
	}
	/* vcpu->mutex serialises KVM_RUN: the bit is ours alone. */
	set_bit(vcpu->vcpu_idx, pvm->in_run);
}

static void xen_run_exit(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	clear_bit(vcpu->vcpu_idx, to_xen(vm)->in_run);
}

/*
 * Runstate accounting: scheduled in (running), preempted (runnable).  As
 * upstream, a vCPU becomes "running" only on its way into the guest
 * (KVM_RUN, which loads it first), not because another vCPU ioctl of the
 * VMM loaded it: a VMM that marked it blocked and then reads its
 * registers must find it still blocked.
 */
static void xen_vcpu_load(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	if (test_bit(vcpu->vcpu_idx, pvm->in_run) &&
	    persona_vcpu_xen_ready(pvm, vcpu))
		persona_runstate_load(pvm, vcpu);
}

static void xen_vcpu_put(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	if (vcpu->preempted && persona_vcpu_xen_ready(pvm, vcpu))
		persona_runstate_put(pvm, vcpu);
}

/*
 * The VM-wide callback vector (HVM_PARAM_CALLBACK_IRQ type 2) is injected
 * the way ExtINT is, while evtchn_upcall_pending is set: it bypasses the
 * LAPIC, so the guest does not EOI it.  Upstream checks it first among
 * external interrupt sources; so does the dispatch.
 */
static u8 xen_extint(struct persona_vm *vm, struct kvm_vcpu *vcpu,
		     bool promise)
{
	struct persona_xen_vm *pvm = to_xen(vm);
	u8 vector;

	if (!persona_kvm_lapic_in_kernel(vcpu))
		return 0;
	vector = READ_ONCE(pvm->upcall_vector);
	if (!vector || !persona_vcpu_xen_ready(pvm, vcpu) ||
	    !persona_upcall_pending(pvm, vcpu, false))
		return 0;
	if (promise)
		WRITE_ONCE(pvm->promised_vector[vcpu->vcpu_idx], vector);
	return vector;
}

/*
 * Between "injectable?" and "which?" the VMM or another vCPU may clear
 * evtchn_upcall_pending, or the VMM may change the callback vector.
 * Deliver the vector that was found injectable: a spurious upcall finds
 * no pending event and returns, for Xen guests as for Xen itself.
 * (Found by xen_fuzz_guest.)
 */
static u8 xen_promised_vector(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	return READ_ONCE(to_xen(vm)->promised_vector[vcpu->vcpu_idx]);
}

static void xen_clock_update(struct persona_vm *vm, struct kvm_vcpu *vcpu,
			     const struct pvclock_vcpu_time_info *clock)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	if (persona_vcpu_xen_ready(pvm, vcpu))
		persona_pvclock_update(pvm, persona_xen_vcpu(pvm, vcpu), clock);
}

/*
 * The Xen timer, events that could not be delivered in atomic context,
 * and upcalls that could not be looked for there.
 */
static bool xen_timer_pending(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	return persona_vcpu_xen_ready(pvm, vcpu) &&
	       (persona_timer_pending(pvm, vcpu) ||
		persona_evtchn_has_deferred(pvm, vcpu) ||
		persona_upcall_stale(pvm, vcpu));
}

static void xen_timer_inject(struct persona_vm *vm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vm *pvm = to_xen(vm);

	if (persona_vcpu_xen_ready(pvm, vcpu)) {
		persona_timer_inject(pvm, vcpu);
		persona_evtchn_inject_deferred(pvm, vcpu);
		persona_upcall_catch_up(pvm, vcpu);
	}
}

const struct persona_ops persona_xen_ops = {
	.name = "Xen",
	.native_cap = KVM_CAP_XEN_HVM,
	.native_cap_name = "KVM_CAP_XEN_HVM",
	.check_extension = xen_check_extension,
	.vm_ioctl_claims = persona_vm_ioctl_claims,
	.vm_ioctl = persona_vm_ioctl,
	.vcpu_ioctl_claims = persona_vcpu_ioctl_claims,
	.vcpu_ioctl = persona_vcpu_ioctl,
	.routing_claims = xen_routing_claims,
	.set_routing_entry = xen_set_routing_entry,
	.vm_teardown = xen_vm_teardown,
	.vm_destroy = persona_vm_destroy,
	.hypercall = xen_hypercall,
	.set_msr = xen_set_msr,
	.msr_written = xen_msr_written,
	.run_enter = xen_run_enter,
	.run_exit = xen_run_exit,
	.vcpu_load = xen_vcpu_load,
	.vcpu_put = xen_vcpu_put,
	.extint = xen_extint,
	.promised_vector = xen_promised_vector,
	.clock_update = xen_clock_update,
	.timer_pending = xen_timer_pending,
	.timer_inject = xen_timer_inject,
};

int persona_xen_init(void)
{
	int r = persona_domain_init();

	if (r)
		return r;
	persona_debugfs_init();
	persona_register(&persona_xen_ops);
	return 0;
}

void persona_xen_exit(void)
{
	persona_vm_exit();
	persona_debugfs_exit();
	/* After the last VM's state: its workers are drained here. */
	persona_domain_exit();
}
