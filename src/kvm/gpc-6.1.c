// SPDX-License-Identifier: GPL-2.0
/*
 * The pfn-cache API as 6.1 has it (kvm/boundary.h, persona_gpc_*()): the
 * VM and the guest address passed on every call, the usage at activation.
 */
#include <linux/kvm_host.h>

#include "boundary.h"

static_assert(GPA_INVALID == PERSONA_GPA_INVALID);

/* 6.1's kvm.ko exports the API. */
int persona_gpc_resolve(void)
{
	return 0;
}

void persona_gpc_init(struct kvm *kvm, struct gfn_to_pfn_cache *gpc)
{
	kvm_gpc_init(gpc);
}

/* Only the host maps these pages: no vCPU, no guest-mode use. */
int persona_gpc_activate(struct kvm *kvm, struct gfn_to_pfn_cache *gpc,
			 gpa_t gpa, unsigned long len)
{
	return kvm_gpc_activate(kvm, gpc, NULL, KVM_HOST_USES_PFN, gpa, len);
}

void persona_gpc_deactivate(struct kvm *kvm, struct gfn_to_pfn_cache *gpc)
{
	kvm_gpc_deactivate(kvm, gpc);
}

/* Under persona_gpc_lock(): is the mapping valid for @len bytes? */
bool persona_gpc_check(struct kvm *kvm, struct gfn_to_pfn_cache *gpc,
		       unsigned long len)
{
	bool ok;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	ok = kvm_gfn_to_pfn_cache_check(kvm, gpc, gpc->gpa, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return ok;
}

/*
 * Map @gpc again after kvm.ko invalidated it.  Sleeps; the caller then
 * re-checks the cache under its lock, which is when the mapping counts.
 */
int persona_gpc_refresh(struct kvm *kvm, struct gfn_to_pfn_cache *gpc,
			unsigned long len)
{
	int idx, r;

	if (!gpc->active)
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	r = kvm_gfn_to_pfn_cache_refresh(kvm, gpc, gpc->gpa, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

/*
 * Record a write through @gpc in the dirty log, which needs the vCPU that
 * is running on this CPU (with a dirty ring, kvm.ko warns otherwise).
 */
void persona_gpc_mark_dirty(struct kvm_vcpu *vcpu,
			    struct gfn_to_pfn_cache *gpc)
{
	if (kvm_get_running_vcpu() == vcpu)
		mark_page_dirty_in_slot(vcpu->kvm, gpc->memslot,
					gpc->gpa >> PAGE_SHIFT);
}
