// SPDX-License-Identifier: GPL-2.0
/*
 * The pfn-cache API as 6.1 has it (kvm/boundary.h, persona_gpc_*()): the
 * VM and the guest address passed on every call, the usage at activation.
 *
 * 6.1's caches know only guest physical addresses.  A cache named by a
 * VMM address (6.12's kvm_gpc_activate_hva()) is emulated: the address is
 * kept, and every refresh maps the guest page the memslots put at that
 * address then.  A memslot change invalidates the cache (its generation),
 * so the cache follows the VMM address across memslot changes as 6.12's
 * does; unlike 6.12's, it needs the address to lie in a memslot.
 */
#include <linux/kvm_host.h>

#include "boundary.h"

static_assert(GPA_INVALID == PERSONA_GPA_INVALID);

/* 6.1's kvm.ko exports the API. */
int persona_gpc_resolve(void)
{
	return 0;
}

void persona_gpc_init(struct kvm *kvm, struct persona_gpc *gpc)
{
	kvm_gpc_init(&gpc->kc);
	gpc->hva = 0;
}

/* Only the host maps these pages: no vCPU, no guest-mode use. */
int persona_gpc_activate(struct kvm *kvm, struct persona_gpc *gpc,
			 gpa_t gpa, unsigned long len)
{
	WRITE_ONCE(gpc->hva, 0);
	return kvm_gpc_activate(kvm, &gpc->kc, NULL, KVM_HOST_USES_PFN, gpa,
				len);
}

/*
 * The guest physical address at which a user memslot shows the VMM's
 * address @hva, PERSONA_GPA_INVALID if none does.  Caller holds
 * kvm->srcu.
 */
static gpa_t persona_hva_to_gpa(struct kvm *kvm, unsigned long hva)
{
	/*
	 * Once: the macro below reads its argument at every step, and a
	 * memslot update may publish another set meanwhile.
	 */
	struct kvm_memslots *slots = kvm_memslots(kvm);
	struct kvm_memory_slot *slot;
	unsigned long off;
	int bkt;

	kvm_for_each_memslot(slot, bkt, slots) {
		if (slot->id >= KVM_USER_MEM_SLOTS || hva < slot->userspace_addr)
			continue;
		off = hva - slot->userspace_addr;
		if (off < slot->npages << PAGE_SHIFT)
			return gfn_to_gpa(slot->base_gfn) + off;
	}
	return PERSONA_GPA_INVALID;
}

/* Caller holds kvm->srcu. */
int persona_gpc_activate_hva(struct kvm *kvm, struct persona_gpc *gpc,
			     unsigned long hva, unsigned long len)
{
	gpa_t gpa;

	/* 6.12's checks, in its order, before the memslots are asked. */
	if (!access_ok((void __user *)hva, len) ||
	    offset_in_page(hva) + len > PAGE_SIZE)
		return -EINVAL;
	gpa = persona_hva_to_gpa(kvm, hva);
	if (gpa == PERSONA_GPA_INVALID)
		return -EFAULT;
	WRITE_ONCE(gpc->hva, hva);
	return kvm_gpc_activate(kvm, &gpc->kc, NULL, KVM_HOST_USES_PFN, gpa,
				len);
}

void persona_gpc_deactivate(struct kvm *kvm, struct persona_gpc *gpc)
{
	kvm_gpc_deactivate(kvm, &gpc->kc);
	WRITE_ONCE(gpc->hva, 0);
}

/* Under persona_gpc_lock(): is the mapping valid for @len bytes? */
bool persona_gpc_check(struct kvm *kvm, struct persona_gpc *gpc,
		       unsigned long len)
{
	bool ok;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	ok = kvm_gfn_to_pfn_cache_check(kvm, &gpc->kc, gpc->kc.gpa, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return ok;
}

/*
 * Map @gpc again after kvm.ko invalidated it.  Sleeps; the caller then
 * re-checks the cache under its lock, which is when the mapping counts.
 */
int persona_gpc_refresh(struct kvm *kvm, struct persona_gpc *gpc,
			unsigned long len)
{
	unsigned long hva = READ_ONCE(gpc->hva);
	gpa_t gpa = gpc->kc.gpa;
	int idx, r;

	if (!gpc->kc.active)
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	if (hva)
		gpa = persona_hva_to_gpa(kvm, hva);
	if (gpa == PERSONA_GPA_INVALID)
		r = -EFAULT;
	else
		r = kvm_gfn_to_pfn_cache_refresh(kvm, &gpc->kc, gpa, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

/*
 * Record a write through @gpc in the dirty log, which needs the vCPU that
 * is running on this CPU (with a dirty ring, kvm.ko warns otherwise).
 */
void persona_gpc_mark_dirty(struct kvm_vcpu *vcpu, struct persona_gpc *gpc)
{
	if (kvm_get_running_vcpu() == vcpu)
		mark_page_dirty_in_slot(vcpu->kvm, gpc->kc.memslot,
					gpc->kc.gpa >> PAGE_SHIFT);
}
