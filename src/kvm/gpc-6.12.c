// SPDX-License-Identifier: GPL-2.0
/*
 * The pfn-cache API as 6.12 has it (kvm/boundary.h, persona_gpc_*()): the
 * cache knows its VM and address; no usage flags.
 */
#include <linux/kvm_host.h>

#include "boundary.h"

static_assert(INVALID_GPA == PERSONA_GPA_INVALID);

void persona_gpc_init(struct kvm *kvm, struct gfn_to_pfn_cache *gpc)
{
	kvm_gpc_init(gpc, kvm);
}

int persona_gpc_activate(struct kvm *kvm, struct gfn_to_pfn_cache *gpc,
			 gpa_t gpa, unsigned long len)
{
	return kvm_gpc_activate(gpc, gpa, len);
}

void persona_gpc_deactivate(struct kvm *kvm, struct gfn_to_pfn_cache *gpc)
{
	kvm_gpc_deactivate(gpc);
}

/* Under persona_gpc_lock(): is the mapping valid for @len bytes? */
bool persona_gpc_check(struct kvm *kvm, struct gfn_to_pfn_cache *gpc,
		       unsigned long len)
{
	return kvm_gpc_check(gpc, len);
}

/*
 * Map @gpc again after kvm.ko invalidated it.  Sleeps; the caller then
 * re-checks the cache under its lock, which is when the mapping counts.
 * An inactive cache stays so (-EINVAL), as on 6.1.
 */
int persona_gpc_refresh(struct kvm *kvm, struct gfn_to_pfn_cache *gpc,
			unsigned long len)
{
	int idx, r;

	if (!gpc->active)
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	r = kvm_gpc_refresh(gpc, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

/* In the dirty log, from the vCPU running on this CPU (see gpc-6.1.c). */
void persona_gpc_mark_dirty(struct kvm_vcpu *vcpu,
			    struct gfn_to_pfn_cache *gpc)
{
	if (kvm_get_running_vcpu() == vcpu)
		kvm_gpc_mark_dirty_in_slot(gpc);
}
