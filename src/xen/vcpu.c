// SPDX-License-Identifier: GPL-2.0
/*
 * Per-vCPU personality state, made the first time the personality
 * touches a vCPU and freed with the VM's (vm.c).
 */
#include <linux/kvm_host.h>
#include <linux/slab.h>

#include "../kvm/boundary.h"
#include "evtchn.h"
#include "timer.h"
#include "vcpu.h"

/*
 * The vCPU's Xen state, made the first time the personality touches the
 * vCPU: from its ioctls or its hypercalls, both of which may sleep.  Until
 * then every path that could reach it checks persona_vcpu_xen_ready().
 * NULL if there is no memory for it.
 */
static struct persona_xen_vcpu *persona_vcpu_xen_init(struct persona_xen_vm *pvm,
						      struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx;
	unsigned long flags;

	might_sleep();
	vx = kzalloc(sizeof(*vx), GFP_KERNEL_ACCOUNT);
	if (!vx)
		return NULL;
	vx->vcpu = vcpu;
	vx->vcpu_id = vcpu->vcpu_idx;
	timer_setup(&vx->poll_timer, persona_poll_timer_fn, 0);
	persona_timer_init(vx);
	persona_gpc_init(vcpu->kvm, &vx->vcpu_info_cache);
	persona_gpc_init(vcpu->kvm, &vx->vcpu_time_info_cache);
	persona_gpc_init(vcpu->kvm, &vx->runstate_cache);
	persona_gpc_init(vcpu->kvm, &vx->runstate2_cache);

	spin_lock_irqsave(&pvm->vcpu_init_lock, flags);
	if (!test_bit(vcpu->vcpu_idx, pvm->vcpu_ready)) {
		pvm->vcpus[vcpu->vcpu_idx] = vx;
		/* Publish only a fully initialised state. */
		smp_mb__before_atomic();
		set_bit(vcpu->vcpu_idx, pvm->vcpu_ready);
		vx = NULL;
	}
	spin_unlock_irqrestore(&pvm->vcpu_init_lock, flags);
	/* Another caller was first. */
	kfree(vx);
	return persona_xen_vcpu(pvm, vcpu);
}

struct persona_xen_vcpu *persona_vcpu_xen(struct persona_xen_vm *pvm,
					  struct kvm_vcpu *vcpu)
{
	if (unlikely(!persona_vcpu_xen_ready(pvm, vcpu)))
		return persona_vcpu_xen_init(pvm, vcpu);
	return persona_xen_vcpu(pvm, vcpu);
}
